"""A generator of realistic technical documents in English and Chinese for the content benchmark.

Documents are specifications, test reports and process recipes of a battery, power-electronics
and chip company: a marking, a title, numbered sections of paragraphs built from the
simulator's topic vocabulary plus a wider technical lexicon, numbers with units and part codes.
Every document is a pure function of its number, so the benchmark can regenerate any document
to cut excerpts from it instead of keeping a gigabyte of text in memory.
"""

from __future__ import annotations

import random

from molehunt.content.markings import CANONICAL_MARKINGS
from molehunt.simulate.vocabulary import COMMON_WORDS, COMMON_WORDS_ZH, TOPICS

# ruff: noqa: SIM905 - word lists read better as prose than as list literals
_LEXICON_EN = (
    "aluminium copper foil binder conductive carbon graphite silicon anode separator "
    "polyethylene ceramic coated thickness tolerance tensile strength elongation adhesion peel "
    "specimen fixture torque pressure vacuum chamber oven temperature ramp dwell cooling rate "
    "humidity dew point nitrogen argon purge flow valve pump sensor thermocouple calibration "
    "uncertainty repeatability reproducibility gauge capability cpk sigma control limit "
    "histogram regression correlation outlier sample lot batch traceability serial barcode "
    "operator shift supervisor checklist procedure instruction revision approval signature "
    "acceptance criteria requirement verification validation qualification prototype pilot "
    "ramp-up mass production supplier incoming inspection certificate conformity deviation "
    "waiver nonconformance root cause fishbone containment escape customer complaint warranty "
    "field return teardown cross section microscope diffraction spectroscopy titration "
    "resistance impedance capacitance inductance frequency bandwidth noise ripple efficiency "
    "loss dissipation junction case ambient derating margin reliability lifetime cycle "
    "calendar fade swelling venting short circuit overcharge nail penetration crush drop "
    "vibration shock altitude salt spray enclosure gasket connector harness busbar fuse relay "
    "firmware register interrupt driver scheduler latency jitter buffer packet checksum "
    "encryption key certificate bootloader partition flash memory stack heap thread mutex "
    "algorithm estimator observer filter model parameter identification lookup table "
    "interpolation threshold hysteresis debounce timeout fault code diagnostic trouble "
    "mitigation redundancy watchdog plausibility monitoring logging telemetry dashboard"
).split()
_LEXICON_ZH = (
    "铝箔 铜箔 粘结剂 导电剂 石墨 硅碳 隔膜 陶瓷涂层 厚度 公差 拉伸强度 延伸率 附着力 剥离强度 "
    "试样 夹具 扭矩 压力 真空 腔体 烘箱 温度 升温 保温 冷却速率 湿度 露点 氮气 氩气 吹扫 流量 "
    "阀门 真空泵 传感器 热电偶 校准 不确定度 重复性 再现性 量具 过程能力 控制限 直方图 回归 "
    "相关性 异常值 样品 批次 追溯 序列号 条码 操作员 班次 主管 检查表 作业指导书 版本 审批 签字 "
    "验收标准 需求 验证 确认 鉴定 样机 试产 爬坡 量产 来料检验 合格证 偏差 让步接收 不合格 "
    "根本原因 鱼骨图 围堵 客户投诉 质保 退货 拆解 切片 显微镜 衍射 光谱 滴定 电阻 阻抗 电容 "
    "电感 频率 带宽 噪声 效率 损耗 散热 结温 壳温 环境温度 降额 裕量 可靠性 寿命 循环寿命 "
    "日历寿命 衰减 鼓胀 泄压 短路 过充 针刺 挤压 跌落 振动 冲击 海拔 盐雾 外壳 密封圈 线束 "
    "保险丝 继电器 寄存器 中断 驱动 调度 抖动 缓冲区 数据包 校验和 加密 密钥 证书 分区 闪存 "
    "线程 互斥锁 算法 估计器 观测器 滤波 模型 参数辨识 查表 插值 阈值 迟滞 消抖 超时 故障码 "
    "诊断 冗余 合理性 监控 日志 遥测 看板"
).split()
_FUNCTION_ZH = ("的 在 对 与 和 及 将 经 由 按 从 后 前 时 中 下 上 应 须 可 不 已 为 是 进行 "
                " 通过 采用 根据 按照 确保 要求 满足 控制 提高 降低 保持 完成 检查 记录").split()
_UNITS = ("mm", "um", "nm", "°C", "%", "V", "mV", "A", "mA", "Ah", "mAh", "Wh", "kW", "MPa",
          "kPa", "Pa", "s", "ms", "min", "h", "rpm", "g", "kg", "mg/L", "ppm", "Hz", "kHz",
          "MHz", "Ω", "mΩ", "N", "N·m", "g/cm³", "mS/cm")
_KINDS_EN = ("Process Specification", "Test Report", "Design Review", "Process Recipe",
             "Failure Analysis", "Requirements Specification", "Qualification Report",
             "Work Instruction", "Control Plan", "Design FMEA")
_KINDS_ZH = ("工艺规格书", "测试报告", "设计评审", "工艺配方", "失效分析", "需求规格书", "鉴定报告",
             "作业指导书", "控制计划", "设计失效模式分析")
_SECTIONS_EN = ("Scope", "Definitions", "Materials", "Equipment", "Procedure", "Parameters",
                "Acceptance Criteria", "Results", "Discussion", "Risks", "Actions", "Appendix")
_SECTIONS_ZH = ("范围", "术语", "材料", "设备", "工艺流程", "工艺参数", "验收标准", "结果", "讨论",
                "风险", "行动项", "附录")
_TOPIC_NAMES = sorted(TOPICS)


def _number(rng: random.Random) -> str:
    value = rng.choice((f"{rng.uniform(0.1, 99):.1f}", f"{rng.randrange(1, 2000)}",
                        f"{rng.uniform(0, 10):.2f}"))
    return f"{value} {rng.choice(_UNITS)}" if rng.random() < 0.7 else value


def _code(rng: random.Random) -> str:
    letters = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(rng.randrange(2, 4)))
    return f"{letters}-{rng.randrange(10, 9999)}"


def _sentence_en(rng: random.Random, topic: list[str]) -> str:
    words: list[str] = []
    for _ in range(rng.randrange(9, 24)):
        roll = rng.random()
        if roll < 0.35:
            words.append(rng.choice(topic))
        elif roll < 0.6:
            words.append(rng.choice(_LEXICON_EN))
        elif roll < 0.92:
            words.append(rng.choice(COMMON_WORDS))
        elif roll < 0.98:
            words.append(_number(rng))
        else:
            words.append(_code(rng))
    if rng.random() < 0.5:
        cut = rng.randrange(2, len(words) - 2)
        words[cut] += ","
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def _sentence_zh(rng: random.Random, topic: list[str]) -> str:
    parts: list[str] = []
    for _ in range(rng.randrange(2, 4)):
        words = []
        for _ in range(rng.randrange(3, 8)):
            roll = rng.random()
            if roll < 0.35:
                words.append(rng.choice(topic))
            elif roll < 0.6:
                words.append(rng.choice(_LEXICON_ZH))
            elif roll < 0.82:
                words.append(rng.choice(_FUNCTION_ZH))
            elif roll < 0.95:
                words.append(rng.choice(COMMON_WORDS_ZH))
            else:
                words.append(_number(rng))
        parts.append("".join(words))
    return "，".join(parts) + "。"


def document(number: int, seed: int = 0) -> tuple[str, str, str, int]:
    """Document ``number``: (doc_id, language, text, sensitivity); half English, half Chinese.

    Sizes are log-uniform between 2 and 30 KB of UTF-8, like real specifications.
    """
    rng = random.Random(f"content-bench/{seed}/{number}")
    language = "zh" if number % 2 else "en"
    topic_name = rng.choice(_TOPIC_NAMES)
    english, chinese = TOPICS[topic_name]
    topic = (chinese if language == "zh" else english).split()
    sensitivity = rng.choices(range(5), (10, 30, 30, 20, 10))[0]
    marking = CANONICAL_MARKINGS[sensitivity][1 if language == "zh" else 0]
    target = int(2048 * 15 ** rng.random())
    kinds = _KINDS_ZH if language == "zh" else _KINDS_EN
    sections = _SECTIONS_ZH if language == "zh" else _SECTIONS_EN
    title = f"{_code(rng)} {topic_name} {rng.choice(kinds)} Rev {rng.choice('ABCDE')}"
    chunks = [marking, title, ""]
    size = sum(len(c.encode()) for c in chunks)
    section = 0
    while size < target:
        if section == 0 or rng.random() < 0.25:
            heading = f"{section + 1}. {sections[section % len(sections)]}"
            chunks.append(heading)
            section += 1
        if language == "zh":
            paragraph = "".join(_sentence_zh(rng, topic) for _ in range(rng.randrange(2, 7)))
        else:
            paragraph = " ".join(_sentence_en(rng, topic) for _ in range(rng.randrange(2, 7)))
        chunks.append(paragraph)
        chunks.append("")
        size += len(paragraph.encode()) + 2
    chunks.append(marking)
    return f"B{number:07d}", language, "\n".join(chunks), sensitivity
