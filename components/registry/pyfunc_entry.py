"""MLflow "models from code" entry: logged as source, so loading unpickles nothing."""

from mlflow.models import set_model

from components.registry.pyfunc import RadRotatorPyfunc

set_model(RadRotatorPyfunc())
