"""docs/operator.md's field reference is the one generated from the model."""

from __future__ import annotations

from pathlib import Path

from deskoperator.fieldref import BEGIN, END, table
from deskoperator.render import LIVE_SECTIONS, SERVICE_INPUTS
from tradingdesk.spec.model import TradingDeskSpec

DOC = Path(__file__).resolve().parents[2] / "docs" / "operator.md"


def test_field_reference_is_current() -> None:
    text = DOC.read_text()
    body = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip()
    assert body == table().strip(), "regenerate the table with: python -m deskoperator.fieldref"


def test_every_spec_section_is_routed_to_the_services_that_read_it() -> None:
    """A new top-level section must be added to SERVICE_INPUTS or LIVE_SECTIONS (and the doc's table), or here."""
    in_pod_template = {"placement", "services"}
    embedded_runtime_only = {"supervision"}  # the kubelet restarts pods; the operator renders nothing from it
    routed = {section for sections in SERVICE_INPUTS.values() for section in sections}
    fields = {f.alias for f in TradingDeskSpec.model_fields.values()}
    assert fields == routed | in_pod_template | set(LIVE_SECTIONS) | embedded_runtime_only
