"""The plain-language fault page in real Chromium: what is wrong and what to do in the reader's
language, site and device names instead of ids, the device's own text collapsed as evidence."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from central.models import utcnow
from central.services.ingest import OrchestrationLimits, ingest
from contracts.messages import CheckResult, DeviceInfo, DeviceStatus, Hello, SelftestReport, Status
from tests.dashboard.conftest import Central, sign_in

pytestmark = pytest.mark.browser

LIMITS = OrchestrationLimits(command_deadline_seconds=10.0, default_multisite_capacity=4)
SILENT = "timeout: no b'\\xff' from serial:/run/roomops/lhasa/camera1@9600 within the deadline"
REJECTED = "rejected: NetworkRejected: the bridge refused the call"


def send(central: Central, site: str, msg: object) -> None:
    with central.server.ctx.unit() as session:
        ingest(session, site, msg, LIMITS)


def seed_faults(central: Central) -> None:
    for site in ("guangzhou", "lhasa"):
        send(
            central,
            site,
            Hello(
                site=site,
                agent_version="t",
                devices=[
                    DeviceInfo(id=f"{site}.codec", model="cisco-sx20", roles=["codec"]),
                    DeviceInfo(id=f"{site}.camera1", model="sony-evi-d70", roles=["camera"]),
                ],
            ),
        )
    send(
        central,
        "guangzhou",
        Status(
            site="guangzhou",
            devices=[
                DeviceStatus(
                    id="guangzhou.codec", up=True, verdict="degraded", reasons=["SIP registration Failed"]
                ),
                DeviceStatus(id="guangzhou.camera1", up=True, verdict="ok"),
            ],
        ),
    )
    now = utcnow()
    send(
        central,
        "guangzhou",
        SelftestReport(
            site="guangzhou",
            trigger="pre_meeting",
            started_at=now,
            finished_at=now,
            verdict="not_ready",
            checks=[
                CheckResult(
                    device="guangzhou.codec", name="codec.registered", status="fail", reason="SIP Failed"
                ),
                CheckResult(
                    device="guangzhou.codec",
                    name="codec.diagnostics",
                    status="fail",
                    reason="Warning: SIP registration failed",
                ),
                CheckResult(device="guangzhou.codec", name="codec.test_call", status="fail", reason=REJECTED),
            ],
        ),
    )
    send(
        central,
        "lhasa",
        Status(
            site="lhasa",
            devices=[
                DeviceStatus(id="lhasa.codec", up=True, verdict="ok"),
                DeviceStatus(id="lhasa.camera1", up=False, verdict="down", reasons=[SILENT]),
            ],
        ),
    )


def use_language(context: BrowserContext, central: Central, lang: str) -> None:
    context.add_cookies([{"name": "roomops_lang", "value": lang, "url": central.url}])


def test_fault_page_in_chinese_says_what_to_do_and_keeps_the_raw_text_collapsed(
    page: Page, context: BrowserContext, central: Central
) -> None:
    seed_faults(central)
    use_language(context, central, "zh-CN")
    sign_in(page, central.url, "viewer", "/faults")
    rows = page.locator("tr[data-fault]")
    expect(rows).to_have_count(2)  # one per root cause: the codec's three checks are one
    codec = page.locator('tr[data-device="guangzhou.codec"]')
    expect(codec).to_have_attribute("data-code", "codec.unregistered")
    expect(codec.locator(".fault-title")).to_have_text("视频终端未注册到 SIP 服务器")
    expect(codec.locator(".fault-action")).to_have_text("请检查 SIP 账号和网络")
    expect(codec.locator("td").nth(1)).to_have_text("广州办事处")
    expect(codec.locator("td").nth(2)).to_have_text("视频终端")
    expect(codec.locator(".symptoms")).to_contain_text("测试呼叫")
    visible = page.locator("#faults").inner_text()
    for raw in ("timeout:", "rejected:", "next reconnect", "codec.registered", "guangzhou", "lhasa"):
        assert raw not in visible, f"{raw!r} shown to the reader: {visible}"
    evidence = codec.locator("pre.evidence")
    expect(evidence).to_be_hidden()  # the device's own text is collapsed
    codec.locator("details > summary").click()
    expect(evidence).to_be_visible()
    expect(evidence).to_contain_text(REJECTED)
    camera = page.locator('tr[data-device="lhasa.camera1"]')
    expect(camera.locator(".fault-title")).to_have_text("摄像机无应答")
    expect(camera.locator("td").nth(2)).to_have_text("摄像机 1")
    expect(camera.locator("td").nth(4)).to_have_text("状态轮询")


def test_fault_page_in_english_and_the_site_page_explains_its_state(
    page: Page, context: BrowserContext, central: Central
) -> None:
    seed_faults(central)
    use_language(context, central, "en")
    sign_in(page, central.url, "viewer", "/faults")
    codec = page.locator('tr[data-device="guangzhou.codec"]')
    expect(codec.locator(".fault-title")).to_have_text("The codec is not registered to the SIP server")
    expect(codec.locator("td").nth(1)).to_have_text("Guangzhou Office")
    page.goto(f"{central.url}/sites/lhasa")
    problem = page.locator('#problems li[data-code="camera.silent"]')
    expect(problem).to_contain_text("Camera 1: The camera does not answer: check the camera's power")
    expect(problem.locator("pre.evidence")).to_be_hidden()
    # the days before the first report are grey ("no data"), never green
    site_row = page.locator('#availability tr[data-device="site"] .day-cell')
    expect(site_row).to_have_count(14)
    expect(site_row.first).to_have_attribute("data-state", "unknown")
    expect(page.locator('#availability tr[data-device="lhasa.camera1"] .day-cell').last).to_have_attribute(
        "data-state", "low"
    )
