"""A test oracle that runs what the operator renders: a kubelet and kube-proxy for the local control plane.

kwok makes pods look Running and Ready without running anything. This harness registers nodes of its own (no
kwok annotation, so kwok leaves them alone) and, for every pod the scheduler binds to one of them, does what a
kubelet would with that pod spec, using the real API server and controllers for everything else:

- **Containers** run as local processes: the container's ``command`` and ``args`` (the image is not used: the
  process runs this checkout's ``tradingdesk``), with its ``env`` (``value``, and ``valueFrom`` field, Secret
  and ConfigMap keys read through the API). ConfigMap and Secret volumes are written as files (``items``,
  ``defaultMode``) at their mount paths under a per-pod root, and so is the projected service account volume
  (a token from the TokenRequest API, the cluster CA, the namespace); emptyDirs are directories shared by the
  pod's containers. Every mount path in args, env and ``workingDir`` is rewritten to its place under that root.
- **Networking**: each pod gets an IP (``status.podIP``, from 10.245.0.0/16: the API refuses loopback
  endpoints) and listens on a loopback address of its own that stands for it (10.245.b.c on 127.10.b.c); a
  wildcard bind (``0.0.0.0:<port>`` in env or args) becomes that address, so replicas never collide. Service
  DNS names in env and args (``<svc>.<ns>.svc[.cluster.local]``) become the Service's own loopback IP, where
  a proxy forwards each new connection to a *ready* endpoint of the Service's EndpointSlices (made by the real
  endpointslice controller from the pods' Ready conditions), and refuses connections while there is none, as
  kube-proxy does.
- **Probes**: gRPC and TCP startup, readiness and liveness probes with the pod's periods and thresholds; the
  Ready condition is written back through the status subresource, so Deployments, EndpointSlices and the
  operator see what the processes report. Liveness failures and exits restart containers with the kubelet's
  back-off; pods of Jobs run to completion (Succeeded or Failed with the exit code).
- **Deletion**: SIGTERM, the grace period, SIGKILL, then the pod object is removed, as a kubelet confirms it.
- **Node failure**: annotating a node ``harness.tradingdesk.io/power=off`` kills every process of its pods at
  once (SIGKILL: the host is gone) and marks the node NotReady; the node lifecycle and taint-eviction
  controllers do the rest. ``power=on`` brings it back.

What it does not prove: the container image (its entrypoint, files and Python), the security context (the
processes run as the harness's user: ``runAsUser``, ``fsGroup``, ``readOnlyRootFilesystem``, capabilities and
seccomp are not applied), kernel isolation (the processes share this machine's network namespace, filesystem
and PIDs; resource limits are not enforced), DNS (names are resolved by rewriting, not by a
resolver), NetworkPolicy enforcement (proven separately by analysis, tests/netpol), Service session affinity and
load balancing beyond picking a ready endpoint, and timings of a real kubelet's status sync.
"""
