"""Inspection sign-off, fault notes and manual close, the recordings archive, the report policy;
who may do what. Runs on its own seeded year (it changes records)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from central.reports.recordings import ArchiveError, archive_path
from tests.reports.conftest import END, SeededYear
from tests.reports.history import YEAR, cst
from tests.reports.test_annual import client, pdf_text


@pytest.fixture(scope="module")
def year(seeded_sqlite_year: SeededYear) -> SeededYear:
    return seeded_sqlite_year


def test_inspection_remarks_and_sign_off(year: SeededYear) -> None:
    with client(year, "viewer") as viewer, client(year, "engineer") as engineer:
        view = viewer.get("/api/v1/reports/inspections", params={"year": YEAR}).json()
        kunming = next(s for s in view["sites"] if s["site_id"] == "kunming")
        may = kunming["months"][4]
        assert may["status"] == "done" and may["signed"] is False
        url = f"/api/v1/reports/inspections/{may['record_id']}"
        record = viewer.get(url).json()
        assert record["drift"][0]["path"] == "SIP.Proxy" and len(record["inventory"]) == 3
        assert {c["status"] for c in record["checks"]} == {"pass"}
        assert record["uplink"]["up_mbps"] > 0
        assert 'data-action="signoff"' not in viewer.get(url, params={"format": "html"}).text
        assert 'data-action="signoff"' in engineer.get(url, params={"format": "html"}).text

        denied = viewer.put(f"{url}/remarks", json={"remarks": "看过了"})
        assert denied.status_code == 403
        saved = engineer.put(f"{url}/remarks", json={"remarks": "SIP 代理地址与配置不符，已报网络组"})
        assert saved.status_code == 200 and saved.json()["signed_at"] is None
        signed = engineer.post(f"{url}/signoff", json={})
        assert signed.status_code == 200, signed.text
        assert signed.json()["signed_by"] == "engineer"
        assert signed.json()["remarks"] == "SIP 代理地址与配置不符，已报网络组"
        frozen = engineer.put(f"{url}/remarks", json={"remarks": "changed"})
        assert frozen.status_code == 409 and "signed off" in frozen.json()["detail"]

        view = viewer.get("/api/v1/reports/inspections", params={"year": YEAR}).json()
        kunming = next(s for s in view["sites"] if s["site_id"] == "kunming")
        assert kunming["months"][4]["signed"] is True and kunming["signed"] == 1
        pdf = viewer.get(url, params={"format": "pdf", "lang": "zh-CN"})
        text = pdf_text(pdf.content).replace(" ", "")
        assert "巡检记录" in text and "配置偏差" in text and "已报网络组" in text
        rows = viewer.get(url, params={"format": "csv", "lang": "en"}).content.decode("utf-8-sig")
        assert "SIP.Proxy" in rows and "engineer" in rows
        audit = engineer.get("/api/v1/audit", params={"action": "inspection.signoff"}).json()
        assert audit and audit[0]["target"] == may["record_id"]
        assert viewer.get("/api/v1/reports/inspections/nope").status_code == 404


def test_fault_records_notes_and_manual_close(year: SeededYear) -> None:
    ledger = year.ledger
    with client(year, "viewer") as viewer, client(year, "engineer") as engineer:
        records = viewer.get("/api/v1/reports/faults", params={"year": YEAR}).json()
        # every fault opened in the year, with its time to repair and the commands run while open
        year_start, year_end = cst(YEAR, 1, 1), cst(YEAR + 1, 1, 1)
        assert len(records) == sum(1 for f in ledger.faults if year_start <= f.opened < year_end) == 9
        urumqi = next(
            r for r in records if r["device_id"] == "urumqi.codec" and r["repair_seconds"] == 172800
        )
        assert [c["kind"] for c in urumqi["commands"]] == ["reboot"]
        assert urumqi["commands"][0]["state"] == "failed" and urumqi["cause"] == "no reply to health poll"
        for fact in (f for f in ledger.faults if len(f.commands) == 2):
            rec = next(
                r
                for r in records
                if r["device_id"] == fact.device
                and r["kind"] == "device_down"
                and r["commands"]
                and len(r["commands"]) == 2
                and r["repair_seconds"] == (fact.closed - fact.opened).total_seconds()
            )
            assert [c["kind"] for c in rec["commands"]] == ["reboot", "power_cycle"]
        check = next(r for r in records if r["kind"] == "check_failed")
        assert check["check_name"] == "codec.registered" and check["repair_seconds"] == 40 * 60

        opened_2026 = viewer.get("/api/v1/reports/faults", params={"year": YEAR + 1}).json()
        assert [r["device_id"] for r in opened_2026] == ["guangzhou.codec"]
        fault_id = opened_2026[0]["id"]
        assert viewer.post(f"/api/v1/reports/faults/{fault_id}/notes", json={"text": "x"}).status_code == 403
        noted = engineer.post(
            f"/api/v1/reports/faults/{fault_id}/notes", json={"text": "已通知广州现场工程师"}
        )
        assert noted.status_code == 201 and noted.json()["notes"][0]["author"] == "engineer"
        assert (
            viewer.post(f"/api/v1/reports/faults/{fault_id}/close", json={"reason": "x"}).status_code == 403
        )
        closed = engineer.post(f"/api/v1/reports/faults/{fault_id}/close", json={"reason": "更换电源后恢复"})
        assert closed.status_code == 200, closed.text
        body = closed.json()
        assert body["closed_by"] == "engineer" and body["reason"] == "更换电源后恢复"
        assert body["repair_seconds"] == pytest.approx((END - ledger.faults[-1].opened).total_seconds())
        again = engineer.post(f"/api/v1/reports/faults/{fault_id}/close", json={"reason": "again"})
        assert again.status_code == 409
        pdf = viewer.get(f"/api/v1/reports/faults/{fault_id}", params={"format": "pdf", "lang": "zh-CN"})
        text = pdf_text(pdf.content).replace(" ", "")
        assert "故障记录" in text and "已通知广州现场工程师" in text and "更换电源后恢复" in text


def test_recordings_archive_verify_and_download(year: SeededYear) -> None:
    with (
        client(year, "viewer") as viewer,
        client(year, "engineer") as engineer,
        client(year, "secretariat") as secretariat,
    ):
        items = viewer.get("/api/v1/recordings", params={"year": YEAR}).json()
        assert len(items) == len(year.ledger.meetings) - 1  # the meeting of the year before is not in it
        item = items[0]
        content = year.ledger.recordings[item["file"]]
        assert item["size"] == len(content) and item["site_id"] == "shanghai"
        assert item["expires_at"] > item["created_at"]

        verified = engineer.post(f"/api/v1/recordings/{item['id']}/verify")
        assert verified.status_code == 200 and verified.json()["ok"] is True
        assert viewer.post(f"/api/v1/recordings/{item['id']}/verify").status_code == 403

        assert viewer.get(f"/api/v1/recordings/{item['id']}/file").status_code == 403
        assert engineer.get(f"/api/v1/recordings/{item['id']}/file").status_code == 403
        download = secretariat.get(f"/api/v1/recordings/{item['id']}/file")
        assert download.status_code == 200 and download.content == content

        path = year.recordings_dir / "shanghai" / item["file"]
        path.write_bytes(content[:-1] + b"!")
        tampered = engineer.post(f"/api/v1/recordings/{item['id']}/verify").json()
        assert tampered["ok"] is False and tampered["problem"] == "checksum differs"
        path.unlink()
        missing = engineer.post(f"/api/v1/recordings/{item['id']}/verify").json()
        assert missing["ok"] is False and "not readable" in missing["problem"]
        assert secretariat.get(f"/api/v1/recordings/{item['id']}/file").status_code == 404
        listed = viewer.get("/api/v1/recordings", params={"year": YEAR}).json()
        assert next(i for i in listed if i["id"] == item["id"])["verified_ok"] is False


def test_archive_paths_stay_inside_the_archive(tmp_path: Path) -> None:
    def rec(file: str) -> SimpleNamespace:
        return SimpleNamespace(id="r1", site_id="lhasa", file=file)

    assert archive_path(tmp_path, rec("/data/../x/m1.mp4")) == (tmp_path / "lhasa" / "m1.mp4").resolve()  # type: ignore[arg-type]
    assert archive_path(tmp_path, rec("C:\\rec\\m2.mp4")).name == "m2.mp4"  # type: ignore[arg-type]
    for bad in ("", "/recordings/..", "."):
        with pytest.raises(ArchiveError):
            archive_path(tmp_path, rec(bad))  # type: ignore[arg-type]


def test_policy_and_retention(year: SeededYear) -> None:
    with client(year, "viewer") as viewer, client(year, "admin") as admin:
        assert viewer.get("/api/v1/reports/settings").json()["retention_days"] == 365
        assert viewer.put("/api/v1/reports/settings", json={"satisfaction_target": 0.5}).status_code == 403
        bad = admin.put("/api/v1/reports/settings", json={"satisfaction_target": 1.5})
        assert bad.status_code == 422 and "satisfaction_target" in bad.json()["detail"]
        assert admin.put("/api/v1/reports/settings", json={"colour": "red"}).status_code == 422
        changed = admin.put(
            "/api/v1/reports/settings", json={"satisfaction_target": 0.5, "retention_days": 200}
        )
        assert changed.status_code == 200 and changed.json()["satisfaction_target"] == 0.5
        report = viewer.get("/api/v1/reports/annual", params={"year": YEAR}).json()
        assert report["policy"]["satisfaction_target"] == 0.5
        assert report["satisfaction_met"] is (report["totals"]["satisfaction"] >= 0.5)

        cutoff = END - timedelta(days=200)
        old = {f"{m.id}.mp4" for m in year.ledger.meetings if m.stopped < cutoff}
        assert viewer.post("/api/v1/recordings/retention/apply").status_code == 403
        purged = admin.post("/api/v1/recordings/retention/apply").json()["purged"]
        assert len(purged) == len(old) > 0
        kept = {p.name for p in year.recordings_dir.rglob("*.mp4")}
        assert not kept & old
        assert admin.post("/api/v1/recordings/retention/apply").json()["purged"] == []
        verdict = admin.post(f"/api/v1/recordings/{purged[0]}/verify").json()
        assert verdict["ok"] is False and "purged" in verdict["problem"]
