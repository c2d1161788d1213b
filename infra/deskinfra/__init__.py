"""The Pulumi program that provisions what a TradingDesk runs on, derived from the desks' own spec files.

``config`` reads the typed stack configuration; ``plan`` derives everything else from the TradingDesk spec
files (colocations, node labels and taints, audit retention, per-desk secrets); the resource modules
(``network``, ``cluster``, ``audit``, ``database``, ``paging``, ``kube``) turn the plan into resources;
``policy`` holds the rules every stack must satisfy, as plain functions; ``program`` wires it together.
"""
