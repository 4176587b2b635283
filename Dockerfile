# syntax=docker/dockerfile:1
# MediMind's image. Its default command is the training script, which is what the `kubernetes` launcher's pod
# runs (the launcher sets the exact command: one process, or `accelerate launch` over the pod's GPUs). With the
# Dagster chart's `dagster api grpc -m medimind_assets.definitions` args in place of that command, the same image
# is the code location and its run pods, so orchestration and training always run the same code.
#
#   docker build -t registry.example.com/medimind:0.1.0 .
#
# The base is pinned to one PyTorch, CUDA and cuDNN release (CUDA 12.8: Hopper and Blackwell GPUs); bump the tag
# deliberately, and pin its digest (`@sha256:...`) in your registry's mirror for byte-for-byte rebuilds.
FROM pytorch/pytorch:2.8.0-cuda12.8-cudnn9-runtime

# Unbuffered: progress lines and the Pipes messages reach the pod's log (and Dagster) as they are written.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_DISABLE_TELEMETRY=1

WORKDIR /opt/medimind

# The base image's torch satisfies the package's `torch>=2.4`, so pip keeps that CUDA build. The `postgres`
# extra is the instance storage the chart's dagster.yaml uses (the code location and run pods need it).
COPY pyproject.toml README.md LICENSE ./
COPY medimind_assets ./medimind_assets
RUN python -m pip install ".[postgres]" \
    && python -c "import torch, medimind_assets.definitions; print('torch', torch.__version__, 'cuda', torch.version.cuda)"

CMD ["python", "-m", "medimind_assets.training.train_lora"]
