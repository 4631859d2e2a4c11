"""The samplers a model denoises with: diffusers' schedulers behind one contract (set_timesteps / step).

All share the noise schedule the model was trained on (components/models/diffusion.py:
cosine, rescaled to zero terminal SNR, v-prediction) and trailing timesteps, so the
first step starts from pure noise at t = T (Lin et al. 2024). DDIM (η = 0) is the
report's sampler (200 steps); DPM-Solver++ (multistep, order 2: the order that stays
stable under classifier-free guidance) and UniPC reach its quality in far fewer
steps (benchmarks/samplers.py measures how few).
"""

from __future__ import annotations

from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, UniPCMultistepScheduler

from components.models.diffusion import noise_schedule

SAMPLERS = {
    "ddim": (DDIMScheduler, {"clip_sample": False, "set_alpha_to_one": True}),
    "dpmsolver++": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++", "solver_order": 2,
                                                  "lower_order_final": True, "final_sigmas_type": "zero"}),
    "unipc": (UniPCMultistepScheduler, {"solver_order": 2, "predict_x0": True, "lower_order_final": True,
                                        "final_sigmas_type": "zero"}),
}


def check_sampler(name: str) -> str:
    from components.sampling.requests import BadRequest

    if name not in SAMPLERS:
        raise BadRequest(f"sampler {name!r} is not one of {', '.join(SAMPLERS)}")
    return name


def make_sampler(name: str, timesteps: int = 1000, prediction_type: str = "v_prediction"):
    """A fresh scheduler: multistep solvers keep the previous steps' outputs, so every sampling run gets its own.
    `prediction_type`: what the network predicts (the rotation model: v; the CT model: the clean volume, `sample`)."""
    cls, options = SAMPLERS[check_sampler(name)]
    return cls(**{**noise_schedule(timesteps), "prediction_type": prediction_type}, timestep_spacing="trailing",
               **options)
