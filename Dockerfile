# The certsmith image: one static binary, run as `certsmith controller` by the chart's
# Deployment and as `certsmith acmesolver` by the HTTP-01 solver Pods.
#
#   docker build -t ghcr.io/certsmith/certsmith:v0.1.0 .
#
# The binary is built by hack/build-static.sh, the same script the tests run, so the image
# and the tested binary cannot drift apart.

FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Installs musl-tools and the musl target itself, builds, and copies the binary to /out.
RUN CARGO_TARGET_DIR=/src/target hack/build-static.sh /out

# distroless/static: no shell, no libc, no package manager; it holds the CA bundle that the
# ACME client's platform verifier reads (/etc/ssl/certs/ca-certificates.crt), tzdata, and the
# `nonroot` user (uid 65532) the chart's securityContext expects.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/certsmith /usr/local/bin/certsmith
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/certsmith"]
CMD ["controller"]
