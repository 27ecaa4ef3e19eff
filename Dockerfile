# nextword: next-word predictions over REST (:8080) and gRPC (:50051).
#
#   docker build -t nextword .                  # CPU image (the default target, `runtime`)
#   docker build --target gpu -t nextword:gpu . # CUDA 12 / cuDNN 9 image (EXECUTION_PROVIDERS=cuda,cpu, OUTPUT_LAYER=device)
#
# Configuration is environment variables (README.md, src/config.ts). Each image
# serves a model repository (MODEL_REPOSITORY=/app/models) holding its default
# bundle: the CPU image the int8 encoder (lstm512-keyboard-int8), the GPU image
# its float32 twin (lstm512-keyboard: onnxruntime's quantized LSTM runs on CPU
# only). To serve other models or roll in new versions without a new image,
# mount a repository folder and point MODEL_REPOSITORY at it
# (docker-compose.yml, deploy/kubernetes/, deploy/README.md "Rolling out a new
# model version"). The service needs no writable path: run it with a
# read-only root filesystem.

# The Node.js line of .node-version (Active LTS), on Debian 13 as its official images are.
ARG NODE_IMAGE=docker.io/library/node:26-trixie-slim
# cuDNN 9 is what onnxruntime-node 1.31's CUDA 12 provider links against.
ARG CUDA_IMAGE=docker.io/nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04

# ---------------------------------------------------------------------------
# build: all dependencies, tsc -> dist/
FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Manifests first, so the npm ci layer is reused until they change. The CPU
# binaries are in the onnxruntime-node package; its install script, which
# would fetch the CUDA ones from nuget.org, does not run (package.json's
# allowScripts, and ONNXRUNTIME_NODE_INSTALL=skip for an npm that predates
# allowScripts): nothing is fetched beyond the npm registry.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# ---------------------------------------------------------------------------
# prod-deps: production node_modules only (no tsc, tap, autocannon)
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /src
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
# onnxruntime-node ships binaries for every platform (~290 MB); keep this
# image's platform/arch only.
RUN npm ci --omit=dev --no-audit --no-fund \
 && for d in node_modules/onnxruntime-node/bin/napi-v*; do \
      find "$d" -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} + ; \
      find "$d/linux" -mindepth 1 -maxdepth 1 ! -name "$(node -p process.arch)" -exec rm -rf {} + ; \
    done

# ---------------------------------------------------------------------------
# gpu-deps: the same, plus onnxruntime's CUDA 12 provider libraries: its
# install script, run here by name, fetches them from nuget.org (network at
# build time; linux/x64 only, the one platform with that nuget package).
# Built on the node image: it needs npm, not CUDA.
FROM ${NODE_IMAGE} AS gpu-deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --no-audit --no-fund \
 && ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js \
 && for d in node_modules/onnxruntime-node/bin/napi-v*; do \
      find "$d" -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} + ; \
      find "$d/linux" -mindepth 1 -maxdepth 1 ! -name "$(node -p process.arch)" -exec rm -rf {} + ; \
    done \
 && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so

# ---------------------------------------------------------------------------
# app: the service's own files, the same in both images: dist/, proto/ and
# package.json (each image adds its default bundle to its repository; the
# other models are for tests and benchmarks). Owned by root, not writable by the service user.
FROM scratch AS app
COPY --from=build /src/dist /app/dist
COPY package.json /app/
COPY proto /app/proto

# ---------------------------------------------------------------------------
# gpu (--target gpu): CUDA runtime + cuDNN, node copied from the node image.
# Placed before `runtime` so that the default target stays the CPU image;
# building the default target never needs this base image.
# Run with the NVIDIA container toolkit (--gpus all / a GPU resource request).
FROM ${CUDA_IMAGE} AS gpu
# Node's own binary (glibc >= 2.28; Ubuntu 22.04 has 2.35). npm is not needed at run time.
COPY --from=gpu-deps /usr/local/bin/node /usr/local/bin/node
# The same numeric user as the CPU image (the node image's `node`, 1000:1000);
# libatomic, which node 24 and later link (the node images carry it).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libatomic1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid 1000 --shell /bin/bash --create-home node
WORKDIR /app
COPY --from=gpu-deps /src/node_modules ./node_modules
COPY --from=app /app ./
COPY models/lstm512-keyboard ./models/lstm512-keyboard
# The whole output layer runs on the GPU beside the encoder, one call per batch
# (OUTPUT_LAYER=device, also its default with a GPU provider; set here so the
# image says it): on a GPU the lazy top-k's cost is kernel launches and host
# round trips, not words (docs/DESIGN.md, "The adaptive softmax, as served").
# The tail graphs, on CPU (TAIL_EXECUTION_PROVIDERS default), only finish the
# rare rows whose device answer ties.
# DEFAULT_MODEL is what EXECUTION_PROVIDERS' default would pick (the float32
# twin with a GPU provider), set so that the image says it.
# MALLOC_MMAP_THRESHOLD_: blocks of 4 MiB and more get their own mapping, given
# back when freed, so an unloaded model version's memory leaves the process
# (glibc otherwise keeps it in ended threads' arenas: +592 vs +24 MB over 20
# load/unload cycles, no CPU cost per keystroke; bench/notebook/model-lifecycle.md).
ENV NODE_ENV=production \
    MALLOC_MMAP_THRESHOLD_=4194304 \
    MODEL_REPOSITORY=/app/models \
    DEFAULT_MODEL=lstm512-keyboard \
    EXECUTION_PROVIDERS=cuda,cpu \
    OUTPUT_LAYER=device
USER 1000:1000
EXPOSE 8080 50051
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Not the CUDA image's nvidia_entrypoint.sh banner wrapper: node is PID 1 (see runtime).
ENTRYPOINT []
CMD ["node", "dist/main.js"]

# ---------------------------------------------------------------------------
# runtime (the default target): CPU image.
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
# Owned by root, not writable by the service user: nothing here changes at run time.
COPY --from=prod-deps /src/node_modules ./node_modules
COPY --from=app /app ./
COPY models/lstm512-keyboard-int8 ./models/lstm512-keyboard-int8
# The repository baked in (absolute: not tied to WORKDIR), and its default
# model, as the service would choose it on CPU, stated. MALLOC_MMAP_THRESHOLD_:
# as in the GPU image above.
ENV NODE_ENV=production \
    MALLOC_MMAP_THRESHOLD_=4194304 \
    MODEL_REPOSITORY=/app/models \
    DEFAULT_MODEL=lstm512-keyboard-int8
# Numeric (the node image's `node` user), so Kubernetes runAsNonRoot can check it.
USER 1000:1000
EXPOSE 8080 50051
# For docker/podman; Kubernetes ignores it and uses its own probes
# (liveness /healthz, readiness /readyz). The slim image has no curl: node's fetch.
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# No entrypoint wrapper (the base image's docker-entrypoint.sh): exec form, so
# node is PID 1 and receives SIGTERM itself; it drains and exits 0 (src/main.ts).
ENTRYPOINT []
CMD ["node", "dist/main.js"]
