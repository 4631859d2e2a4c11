"""MLflow "models from code" entry for radrotator-generator: logged as source, so loading unpickles nothing."""

from mlflow.models import set_model

from components.generation.pyfunc import GeneratorPyfunc

set_model(GeneratorPyfunc())
