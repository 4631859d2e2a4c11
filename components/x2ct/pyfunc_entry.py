"""MLflow "models from code" entry for radrotator-x2ct: logged as source, so loading unpickles nothing."""

from mlflow.models import set_model

from components.x2ct.pyfunc import X2CTPyfunc

set_model(X2CTPyfunc())
