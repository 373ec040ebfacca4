"""Building blocks for plugin authors (public): ``assay.lib.optim`` (parameter groups, the
optimizer-wrapper base), ``assay.lib.adapters`` (LoRA layers and the LoRA adapter),
``assay.lib.optimum`` (the optimum estimator claims and laws share).

Submodules are imported on use, so ``import assay.lib.optimum`` does not import torch.
"""
