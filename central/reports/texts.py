"""The reports' wording in Chinese and English (one table, so the two never drift apart)."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("zh-CN", "en")
DEFAULT = "zh-CN"

#: key -> (zh-CN, en)
TEXTS: dict[str, tuple[str, str]] = {
    "nav.back": ("巡检与报表", "Inspections & reports"),
    "org": ("视频会议系统运维", "Video-conference operations"),
    "annual.title": ("{year}年度视频会议运维报告", "Annual operations report {year}"),
    "annual.period": ("统计区间", "Period"),
    "annual.generated": ("生成时间", "Generated"),
    "annual.sites": ("站点", "Sites"),
    "section.summary": ("总体情况", "Summary"),
    "section.meetings": ("会议保障", "Meetings supported"),
    "section.inspections": ("巡检完成情况", "Inspections done against due"),
    "section.availability": ("站点可用率", "Availability per site"),
    "section.faults": ("故障与修复时间", "Faults and time to repair"),
    "section.calls": ("通话质量（高清/标清）", "Call quality (HD / SD)"),
    "section.uplink": ("上行带宽", "Uplink bandwidth"),
    "section.satisfaction": ("用户满意度", "User satisfaction"),
    "section.definitions": ("统计口径", "Definitions"),
    "col.site": ("站点", "Site"),
    "col.meetings": ("会议数", "Meetings"),
    "col.hours": ("会议时长（小时）", "Hours"),
    "col.sites_taking_part": ("参会站点数", "Sites taking part"),
    "col.due": ("应巡检", "Due"),
    "col.done": ("已巡检", "Done"),
    "col.late": ("逾期", "Late"),
    "col.rate": ("完成率", "Rate"),
    "col.availability": ("全时段可用率", "Availability (overall)"),
    "col.availability_meetings": ("会议时段可用率", "Availability (meeting hours)"),
    "col.downtime": ("停机时长（小时）", "Downtime (hours)"),
    "col.faults": ("故障数", "Faults"),
    "col.open": ("未关闭", "Open"),
    "col.mttr": ("平均修复时间", "Mean time to repair"),
    "col.worst": ("最长修复时间", "Worst time to repair"),
    "col.calls": ("通话数", "Calls"),
    "col.hd": ("高清", "HD"),
    "col.sd": ("标清", "SD"),
    "col.hd_share": ("高清占比", "HD share"),
    "col.sd_share": ("标清占比", "SD share"),
    "col.measurements": ("测量次数", "Measurements"),
    "col.up_mean": ("平均上行（Mbps）", "Mean up (Mbps)"),
    "col.up_min": ("最低上行（Mbps）", "Lowest up (Mbps)"),
    "col.down_mean": ("平均下行（Mbps）", "Mean down (Mbps)"),
    "col.rtt": ("平均时延（ms）", "Mean RTT (ms)"),
    "col.loss": ("平均丢包率", "Mean loss"),
    "col.below_hd": ("低于高清需求次数", "Below HD need"),
    "col.ratings": ("评价数", "Ratings"),
    "col.good": ("4–5分", "Rated 4–5"),
    "col.satisfaction": ("满意率", "Satisfied"),
    "col.target": ("目标", "Target"),
    "col.met": ("是否达标", "Target met"),
    "col.section": ("类别", "Section"),
    "col.figure": ("指标", "Figure"),
    "col.value": ("数值", "Value"),
    "total": ("合计", "Total"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "none": ("—", "—"),
    "uplink.need": ("高清通话所需上行带宽：{mbps} Mbps", "Upload an HD call needs: {mbps} Mbps"),
    "def.meetings": ("会议以实际开始时间计入年度，时长为实际开始至结束（缺失时按计划时间）。",
                     "A meeting counts in the year it started, for the time from its actual start to stop "
                     "(scheduled times where one is missing)."),
    "def.availability": ("视频终端、网络或配置为关键的设备离线即视为站点不可用；只计实际观测到的时间"
                         "（首次报告前和代理离线期间为未知）；会议时段可用率只计该站点参会期间。",
                         "A site is unavailable while its codec, network or a device its profile marks "
                         "critical is down; only observed time counts (before the first report and while "
                         "the agent is off-line it is unknown); the meeting-hours figure counts only the "
                         "site's meetings."),
    "def.inspections": ("每月{day}日到期，{grace}天内完成为按时；应巡检为已到期月份。",
                        "Due on day {day} of each month, on time within {grace} days; due counts the months "
                        "whose deadline has passed or whose inspection ran."),
    "def.satisfaction": ("满意率为4–5分评价所占比例，目标{target}。",
                         "Satisfaction is the share of ratings 4–5; the target is {target}."),
    # charts
    "section.charts": ("各站点月度趋势", "Month by month per site"),
    "chart.availability": ("可用率", "Availability"),
    "chart.uplink": ("上行带宽（Mbps，虚线为高清需求）", "Uplink, Mbps (dashed: HD need)"),
    "chart.hd": ("高清通话占比", "Calls in HD"),
    "col.chart": ("图表", "Chart"),
    "chart.numbers": ("各月数值", "The numbers"),
    "def.charts": ("每月一柱；空缺表示该月无数据（站点尚未建立、月份未到或无测量）；红色柱低于高清需求。",
                   "One bar per month; a gap is a month without data (before the site existed, not yet "
                   "begun, or nothing measured); red bars are below the HD need."),
    # the improvement section (case for renewal)
    "section.renewal": ("改进建议（设备与线路更新依据）", "Improvements: the case for renewal"),
    "renew.uplink": ("上行带宽（平均/最低，高清需求）", "Uplink (mean / lowest, HD needs)"),
    "renew.codec": ("视频终端（推出年份，最高画质）", "Codec (introduced, best video)"),
    "renew.calls": ("会议实际分辨率", "Resolution meetings ran at"),
    "renew.address": ("本年度地址变更", "Address changed this year"),
    "renew.verdict": ("结论", "Verdict"),
    "renew.advice": ("建议", "Recommendation"),
    "renew.renew": ("建议更新", "renew"),
    "renew.keep": ("暂不更新", "keep"),
    "renew.unseen": ("无连接地址记录", "no address recorded"),
    "renew.changes": ("是，{n}次", "yes, {n}×"),
    "renew.unknown_codec": ("未知型号", "model unknown"),
    "renew.no_calls": ("无通话", "no calls"),
    "renew.calls_at": ("多为{res}（高清{share}，共{calls}次）", "mostly {res} ({share} HD of {calls})"),
    "finding.uplink": ("上行带宽不足：最低{min} Mbps，高清需{need} Mbps，建议线路提速",
                       "uplink too slow: lowest {min} Mbps against {need} Mbps for HD; upgrade the line"),
    "finding.measure_uplink": ("本年度无上行带宽测量：请在下次巡检时测量",
                               "no uplink measured this year: measure it at the next inspection"),
    "finding.codec_old": ("视频终端于{year}年推出，已{age}年，建议更换",
                          "the codec came out in {year} ({age} years ago): replace it"),
    "finding.codec_sd": ("视频终端不能发送高清图像，建议更换", "the codec cannot send HD video: replace it"),
    "finding.codec_unknown": ("视频终端型号未登记：请在站点配置中登记型号",
                              "the codec model is unknown to RoomOps: record it in the site profile"),
    "finding.address": ("本年度地址变更{n}次：建议申请固定地址（或地址固定的专线/VPN）",
                        "the address changed {n} times this year: ask for a fixed address (or a VPN "
                        "address that does not change)"),
    "finding.below_hd": ("会议多以{res}进行，高清仅占{share}", "meetings ran mostly at {res}, {share} in HD"),
    "finding.none": ("依据本年度数据无需更新", "no renewal needed on this year's evidence"),
    "def.renewal": ("规则：最低上行低于高清需求或逾一成测量低于需求即建议提速；"
                    "终端推出满{age}年或不支持高清即建议更换；地址变更以中心所见代理连接地址为准。",
                    "Rules: a faster line when the lowest upload is below the HD need or more than a tenth "
                    "of the measurements are; a new codec when it came out {age} or more years before the "
                    "report year or cannot send HD; address changes as central saw the agent connect."),
    # inspections
    "insp.title": ("{year}年度月度巡检记录", "Monthly inspections {year}"),
    "insp.record": ("巡检记录", "Inspection record"),
    "insp.month": ("月份", "Month"),
    "insp.legend": ("图例", "Legend"),
    "insp.signed_count": ("已签字", "Signed off"),
    "status.done": ("已完成", "done"),
    "status.late": ("逾期完成", "late"),
    "status.missing": ("缺失", "missing"),
    "status.pending": ("待完成", "pending"),
    "status.upcoming": ("未到期", "upcoming"),
    "status.not_applicable": ("不适用", "n/a"),
    "rec.site": ("站点", "Site"),
    "rec.started": ("开始时间", "Started"),
    "rec.finished": ("结束时间", "Finished"),
    "rec.verdict": ("结论", "Verdict"),
    "rec.late": ("是否逾期", "Late"),
    "rec.checks": ("自检项目", "Self-test checks"),
    "rec.device": ("设备", "Device"),
    "rec.check": ("检查项", "Check"),
    "rec.status": ("结果", "Result"),
    "rec.reason": ("说明", "Reason"),
    "rec.inventory": ("设备清单（型号与固件）", "Inventory (identities and firmware)"),
    "rec.model": ("型号", "Model"),
    "rec.serial": ("序列号", "Serial"),
    "rec.firmware": ("固件版本", "Firmware"),
    "rec.drift": ("配置偏差", "Configuration drift"),
    "rec.no_drift": ("无配置偏差", "No configuration drift"),
    "rec.setting": ("配置项", "Setting"),
    "rec.expected": ("应为", "Expected"),
    "rec.actual": ("实际", "Actual"),
    "rec.uplink": ("上行链路", "Uplink"),
    "rec.remarks": ("工程师意见", "Engineer's remarks"),
    "rec.signoff": ("签字确认", "Sign-off"),
    "rec.signed_by": ("签字人", "Signed by"),
    "rec.signed_at": ("签字时间", "Signed at"),
    "rec.unsigned": ("尚未签字", "Not signed off yet"),
    "rec.save_remarks": ("保存意见", "Save remarks"),
    "rec.sign": ("签字确认", "Sign off"),
    "verdict.ready": ("正常", "ready"),
    "verdict.degraded": ("降级", "degraded"),
    "verdict.not_ready": ("不可用", "not ready"),
    # faults
    "fault.title": ("故障记录", "Fault record"),
    "fault.list_title": ("{year}年度故障记录", "Fault records {year}"),
    "fault.device": ("设备", "Device"),
    "fault.kind": ("类型", "Kind"),
    "fault.device_down": ("设备离线", "device down"),
    "fault.check_failed": ("检查失败", "check failed"),
    "fault.cause": ("原因", "Cause"),
    "fault.evidence": ("设备原始信息（供工程师参考）", "Device's own text (for engineers)"),
    "section.maintenance": ("计划维护", "Planned maintenance"),
    "maint.whole_site": ("整个会议室", "whole room"),
    "maint.actor": ("操作人", "By"),
    "maint.why": ("原因", "Why"),
    "maint.start": ("开始", "Start"),
    "maint.end": ("结束", "End"),
    "def.maintenance": ("重启、断电重启、搬迁和巡检期间的停机不计为故障，也不计入可用率和修复时间。",
                        "Outages during reboots, power-cycles, relocations and inspections are not faults "
                        "and count neither against availability nor time to repair."),
    "fault.opened": ("发生时间", "Opened"),
    "fault.closed": ("关闭时间", "Closed"),
    "fault.closed_by": ("关闭人", "Closed by"),
    "fault.reason": ("关闭原因", "Reason"),
    "fault.repair": ("修复时间", "Time to repair"),
    "fault.commands": ("处理期间执行的命令", "Commands run while open"),
    "fault.command": ("命令", "Command"),
    "fault.by": ("发起人", "By"),
    "fault.at": ("时间", "At"),
    "fault.state": ("结果", "Outcome"),
    "fault.notes": ("备注", "Notes"),
    "fault.add_note": ("添加备注", "Add note"),
    "fault.close": ("手动关闭", "Close"),
    # recordings
    "rec_archive.title": ("录像归档", "Recordings archive"),
    "rec_archive.meeting": ("会议", "Meeting"),
    "rec_archive.file": ("文件", "File"),
    "rec_archive.size": ("大小（字节）", "Size (bytes)"),
    "rec_archive.duration": ("时长（秒）", "Duration (s)"),
    "rec_archive.sha256": ("SHA-256 校验值", "SHA-256"),
    "rec_archive.expires": ("保留至", "Kept until"),
    "rec_archive.verified": ("校验结果", "Verified"),
    "rec_archive.verify": ("校验", "Verify"),
    "rec_archive.download": ("下载", "Download"),
    "rec_archive.retention": ("保留期限", "Retention"),
    "rec_archive.days": ("{days}天", "{days} days"),
}

Translator = Callable[..., str]


def pick(lang: str | None) -> str:
    return normalize(lang) or DEFAULT


def normalize(lang: str | None) -> str | None:
    """A language tag as people write it -> one of ``LANGUAGES``: ``zh``, ``zh-CN``, ``zh_cn``,
    ``zh-Hans`` are Chinese, ``en``, ``en-US``, ``en-GB`` English; None for anything else."""
    tag = (lang or "").strip().lower().replace("_", "-")
    primary = tag.split("-")[0]
    if primary == "zh":
        return "zh-CN"
    if primary == "en":
        return "en"
    return None


def from_accept_language(header: str | None) -> str | None:
    """The first language of an Accept-Language header (by q, then order) that we have."""
    choices: list[tuple[float, int, str]] = []
    for order, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        found = normalize(tag)
        if found and quality > 0:
            choices.append((-quality, order, found))
    return min(choices)[2] if choices else None


def translator(lang: str) -> Translator:
    index = LANGUAGES.index(pick(lang))

    def t(key: str, **values: object) -> str:
        pair = TEXTS.get(key)
        text = pair[index] if pair else key
        return text.format(**values) if values else text

    return t
