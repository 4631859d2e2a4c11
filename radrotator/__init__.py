"""RadRotator's user tools: `radrotator rotate | video | drr | info | demo | ingest | synth-ct | profile | sweep`.

Importing this package imports no Prefect: a command starts a flow (ingest,
sweep) only when it runs one. The pipeline's stages are flows/ (one thin module
each) over components/ (the work).
"""

__version__ = "0.1.0"
