"""The real-engine test harness, free of pytest so the benchmarks can use it too.

- ``paths``: the repository, the production baseline, the Kubernetes stacks by short name;
- ``toolchain``: where scripts/*-toolchain.sh put the binaries, what is missing, and their pins;
- ``engine``: a hermetic Pulumi engine over a copy of the workspace;
- ``control_plane``: etcd and kube-apiserver on loopback;
- ``cluster``: that control plane prepared as production is today.

Skipping or failing a test is the conftests' business: these modules only say why.
"""
