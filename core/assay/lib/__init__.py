"""Building blocks for plugin authors (public): ``assay.lib.optim`` (parameter groups, the
optimizer-wrapper base), ``assay.lib.adapters`` (LoRA layers and the LoRA adapter),
``assay.lib.optimum`` (the optimum estimator claims and laws share), ``assay.lib.subspace``
(random-subspace training, theta_0 + P z), ``assay.lib.init`` (orthogonal / scaled Gaussian
initialisation), ``assay.lib.configs`` (the configs of the LoRA adapter, the linear teacher
and the optimizer wrapper, importable without torch).

Submodules are imported on use, so ``import assay.lib.optimum`` does not import torch.
"""
