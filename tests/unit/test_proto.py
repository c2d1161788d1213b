"""The generated Python code is what `make proto` makes from the .proto files today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    protos = sorted((REPO / "proto" / "tradingdesk" / "v1").glob("*.proto"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{REPO / 'proto'}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            *map(str, protos),
        ],
        check=True,
    )
    generated = sorted(p.relative_to(tmp_path) for p in (tmp_path / "tradingdesk" / "v1").glob("*.py*"))
    committed = REPO / "services"
    assert generated, "protoc generated nothing"
    stale = [str(rel) for rel in generated if (tmp_path / rel).read_bytes() != (committed / rel).read_bytes()]
    assert not stale, f"generated code is stale, run `make proto`: {stale}"
    expected = {p.relative_to(committed) for p in (committed / "tradingdesk" / "v1").glob("*_pb2*.py*")}
    assert expected == set(generated), "generated files without a .proto (or the reverse)"


def test_every_service_is_in_package_tradingdesk_v1() -> None:
    from tradingdesk.v1 import compliance_pb2, market_data_pb2, monitoring_pb2, orders_pb2, risk_pb2

    names = {
        s.full_name
        for m in (compliance_pb2, market_data_pb2, monitoring_pb2, orders_pb2, risk_pb2)
        for s in m.DESCRIPTOR.services_by_name.values()
    }
    assert names == {
        "tradingdesk.v1.ComplianceService",
        "tradingdesk.v1.MarketDataService",
        "tradingdesk.v1.MonitoringService",
        "tradingdesk.v1.OrderService",
        "tradingdesk.v1.RiskService",
    }
    methods = set(orders_pb2.DESCRIPTOR.services_by_name["OrderService"].methods_by_name)
    assert {
        "SubmitOrder",
        "CancelOrder",
        "ReplaceOrder",
        "GetOrder",
        "ListOrders",
        "StreamExecutions",
        "OrderSession",
    } <= methods
