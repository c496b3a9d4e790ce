"""The explicit Kubernetes provider every Kubernetes stack creates: its options in stack config."""

from __future__ import annotations

from runner_k8s.config.model import Model

# --- the Kubernetes provider -------------------------------------------------------------------


class ProviderConfig(Model):
    """Options of the explicit ``kubernetes.Provider`` each stack creates."""

    context: str | None = None
    """kubeconfig context the stack's `kubernetes.Provider` uses (its `context`); unset: the
    kubeconfig's current context. May be set with `--secret`.
    """
    kubeconfig: str | None = None
    """Path to, or content of, the kubeconfig (the provider's `kubeconfig`, always stored as a
    Pulumi secret); unset: `$KUBECONFIG` or `~/.kube/config`. May be set with `--secret`, since a
    kubeconfig can carry credentials.
    """
    # pulumi-kubernetes >= 4.29 fails with AlreadyExists on create; upsert adopts what kubectl made.
    upsert_existing_objects: bool = True
    """The provider's `upsertExistingObjects`: a create that meets an existing object takes it over
    by server-side apply instead of failing with AlreadyExists (the default since
    pulumi-kubernetes 4.29). `true` by default so the first `pulumi up` adopts what kubectl made.
    """
    # Update the named ConfigMap in place instead of delete-then-create (the name is fixed).
    enable_config_map_mutable: bool = True
    """The provider's `enableConfigMapMutable`: update a ConfigMap in place instead of replacing it
    (delete, then create), which with a fixed name would briefly remove the codex config file.
    """
    # Adopt objects whose fields kubectl set to other values: a reviewed line in the stack file
    # instead of an environment variable on one operator's shell.
    patch_force: bool = False
    """The provider's `enablePatchForce`: every server-side apply takes over the fields another
    field manager (kubectl's included) set to other values, instead of failing with a conflict.
    For the `pulumi up` that adopts objects edited by hand since the config was written; set it
    for that update, then remove it. `false` leaves the choice to the
    `PULUMI_K8S_ENABLE_PATCH_FORCE` environment variable.
    """
    # Leave objects in the cluster when Pulumi deletes them (hand the fleet back to kubectl).
    retain_on_delete: bool = False
    """Pulumi's `retainOnDelete` on every object: `pulumi destroy` (or a removal) forgets the object
    and leaves it in the cluster, to hand a fleet back to kubectl.
    """
    # Test-only: write the objects as YAML files into this directory instead of applying them
    # (the engine tier runs the real CLI and provider with no cluster).
    render_yaml_to_directory: str | None = None
    """Test-only (the engine tier): the provider's `renderYamlToDirectory`, writing each object as a
    YAML file into this directory instead of applying it.
    """
    # Test-only: annotate every object `pulumi.com/skipAwait`, for API servers with no controllers
    # or kubelet, where a Deployment never becomes ready. Never for a real cluster: Pulumi would
    # then report a broken rollout as a success.
    skip_await: bool = False
    """Test-only (the cluster tier): annotate every object `pulumi.com/skipAwait`, for an API server
    with no controllers or kubelet. Never on a real cluster: a broken rollout would be reported
    as a success.
    """
