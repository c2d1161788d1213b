"""tradingdesk: a Kubernetes-native institutional trading desk."""

import os

__version__ = "0.1.0"

# gRPC's fork handlers (pthread_atfork) are for a child that goes on using gRPC. Ours never does: routing's
# snapshot child only serializes into a pipe and exits, and every other fork is followed by exec. With the
# handlers on, a fork while other threads are inside gRPC is logged ("skipping fork() handlers") and can leave
# the poller in a state that aborts the parent (ev_epoll1_linux "Check failed", seen under load). Read by gRPC
# when it initialises, so set before any channel or server exists; an explicit setting wins.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
