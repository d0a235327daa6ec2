"""Words the synthetic organisation is made of: names, topics, markings, outside domains.

Each project draws its documents from one technical topic, in English or Chinese, so that two
projects' documents share little vocabulary and content fingerprints mean something. Markings
follow what companies print on documents, in both languages (see :data:`MARKINGS`).
"""

# ruff: noqa: SIM905 - word lists read better as prose than as list literals
from __future__ import annotations

from types import MappingProxyType

FIRST_NAMES = (
    "Aaron Abigail Adam Adrian Aisha Alan Albert Alec Alice Alma Amber Amir Ana Andrea Angela "
    "Anita Ann Anthony Arthur Ava Barbara Basil Beatrice Ben Bernard Beth Blake Bonnie Boris "
    "Brenda Brian Bruce Caleb Calvin Camille Carl Carmen Carol Cedric Chen Chloe Chris Clara "
    "Claude Colin Craig Cynthia Dale Dana Daniel Daria David Dean Deborah Denise Derek Diana "
    "Dominic Donna Doris Dylan Edgar Edith Edward Elaine Eli Elena Elijah Ellen Emil Emma Eric "
    "Erin Ethan Eva Evan Farah Felix Fiona Frank Gabriel Gail Gavin Gemma George Gloria Grace "
    "Grant Greta Hana Harold Harriet Hassan Hazel Hector Helen Henry Holly Hugo Ian Ingrid Irene "
    "Isaac Ivan Jack Jacob Jade James Jane Janet Jason Jean Jenna Jerome Jill Joan Joel John "
    "Jonas Joseph Joyce Julia Julian June Karen Karl Kate Keith Kelly Kevin Kim Kyle Lana Lara "
    "Laura Lea Lee Leon Li Lily Linda Lionel Lisa Liu Lois Louis Lucy Luis Luke Lydia Mabel "
    "Malik Marco Margaret Maria Mark Martha Martin Mary Mason Maya Megan Mei Miles Mira Molly "
    "Nadia Nancy Naomi Nathan Neil Nina Noah Nora Olga Oliver Omar Oscar Owen Pamela Paul Paula "
    "Peter Philip Priya Quentin Rachel Ralph Raj Ray Rebecca Rita Robert Rosa Ross Ruth Ryan "
    "Sam Sandra Sara Scott Sean Selma Seth Sharon Simon Sofia Sonia Stella Stephen Susan Tara "
    "Ted Teresa Thomas Tina Tobias Troy Uma Ursula Valerie Victor Vince Vivian Wade Walter Wang "
    "Wanda Wei Wendy Xavier Xin Yara Yusuf Yvonne Zachary Zane Zhang Zoe"
).split()

LAST_NAMES = (
    "Abbott Acosta Adams Aguilar Ahmed Allen Alvarez Andersen Armstrong Austin Bailey Baker "
    "Banks Barnes Barrett Bates Bauer Becker Bell Bennett Berg Bishop Black Blair Bolton Booth "
    "Bowen Boyd Bradley Brandt Brennan Brooks Bryant Burke Burns Byrne Cain Campbell Carlson "
    "Carr Carter Castillo Chan Chandler Chang Chavez Chen Cho Clarke Cohen Cole Collins Conner "
    "Cooper Cortez Cox Crawford Cruz Cunningham Dalton Daniels Davidson Dawson Day Delgado Diaz "
    "Dixon Dominguez Douglas Duncan Dunn Eaton Edwards Elliott Ellis Erikson Espinoza Evans "
    "Farmer Ferguson Fernandez Fischer Fleming Fletcher Flores Ford Foster Fox Francis Frank "
    "Fuller Gallagher Garcia Garner Gibson Gilbert Goh Gomez Gordon Graham Grant Greene Gupta "
    "Hale Hall Hamilton Hansen Hardy Harper Harris Hayes Henderson Hernandez Hicks Hill Ho "
    "Hoffman Holland Holmes Hopkins Howard Huang Hughes Hunt Ibrahim Ingram Jacobs James Jensen "
    "Jimenez Johnson Jordan Kang Keller Kelly Kennedy Khan Kim Klein Knight Koch Kramer Kumar "
    "Lam Lambert Lane Larsen Lawson Lee Lewis Li Lin Lindqvist Liu Lopez Lowe Lucas Lynch Ma "
    "Mack Mann Marsh Martin Mason Matthews Meyer Miller Mills Mitchell Moore Morales Morgan "
    "Morris Murphy Murray Nash Nguyen Nielsen Novak Obrien Olsen Ortiz Owens Park Parker Patel "
    "Pearson Perez Perry Peters Pham Phillips Pierce Porter Powell Price Quinn Ramirez Ramos "
    "Reed Reyes Rhodes Rios Rivera Roberts Robinson Rogers Rojas Ross Russell Ryan Salazar "
    "Sanchez Sanders Santos Schmidt Schneider Scott Shah Shaw Silva Simmons Singh Slater Smith "
    "Snyder Song Soto Spencer Stanley Stone Sullivan Sun Suzuki Tan Tanaka Taylor Thompson "
    "Torres Tran Tucker Turner Vargas Vaughn Vega Wagner Walker Walsh Wang Ward Warren Watson "
    "Weber West Wheeler White Williams Wilson Wolf Wong Wright Wu Xu Yang Young Yu Zhang Zhao "
    "Zhou Zimmerman"
).split()

#: Technical topics, one per project: English words, then Chinese terms.
TOPICS: MappingProxyType[str, tuple[str, str]] = MappingProxyType({
    "cathode": (
        "cathode nickel cobalt manganese lithium precursor calcination sintering particle "
        "morphology coating dopant slurry tap density capacity retention voltage fade "
        "crystallinity spinel layered oxide electrochemical impedance cycling furnace kiln "
        "stoichiometry lattice",
        "正极 镍钴锰 锂 前驱体 煅烧 烧结 颗粒 形貌 包覆 掺杂 浆料 振实密度 容量保持率 电压衰减 "
        "结晶度 尖晶石 层状氧化物 电化学阻抗 循环 窑炉 化学计量 晶格",
    ),
    "electrolyte": (
        "electrolyte solvent carbonate additive fluorinated salt conductivity viscosity "
        "interphase passivation decomposition flammability gel polymer solid ceramic sulfide "
        "garnet separator wetting moisture purity formulation anode lithium plating",
        "电解液 溶剂 碳酸酯 添加剂 氟化 锂盐 电导率 粘度 界面膜 钝化 分解 阻燃 凝胶 聚合物 固态 "
        "陶瓷 硫化物 石榴石 隔膜 浸润 水分 纯度 配方 负极 析锂",
    ),
    "cell_process": (
        "coating calendering slitting winding stacking tab welding electrolyte filling "
        "formation aging grading degassing sealing pouch prismatic cylindrical yield scrap "
        "throughput takt line station vision inspection humidity dry room",
        "涂布 辊压 分切 卷绕 叠片 极耳 焊接 注液 化成 老化 分容 除气 封装 软包 方形 圆柱 良率 "
        "报废 产能 节拍 产线 工位 视觉检测 湿度 干燥房",
    ),
    "bms": (
        "battery management firmware state charge health estimation kalman balancing "
        "contactor precharge isolation fault diagnostics thermal runaway cell voltage sensing "
        "can bus calibration bootloader watchdog safety asil",
        "电池管理 固件 荷电状态 健康状态 估算 卡尔曼 均衡 接触器 预充 绝缘 故障诊断 热失控 "
        "单体电压 采样 总线 标定 引导程序 看门狗 功能安全",
    ),
    "inverter": (
        "inverter silicon carbide mosfet gate driver switching loss dead time pwm modulation "
        "dc link capacitor busbar thermal resistance heatsink efficiency harmonic ripple emi "
        "filter motor torque control field oriented",
        "逆变器 碳化硅 场效应管 栅极驱动 开关损耗 死区时间 脉宽调制 母线电容 汇流排 热阻 散热器 "
        "效率 谐波 纹波 电磁干扰 滤波器 电机 扭矩控制 磁场定向",
    ),
    "charging": (
        "charger connector protocol handshake power module rectifier pfc llc resonant "
        "converter cooling cable liquid cooled station grid demand response billing firmware "
        "certification interoperability",
        "充电桩 连接器 协议 握手 功率模块 整流 功率因数校正 谐振 变换器 冷却 电缆 液冷 "
        "充电站 电网 需求响应 计费 固件 认证 互操作性",
    ),
    "autonomy": (
        "perception lidar radar camera fusion calibration neural network training dataset "
        "annotation inference latency planner trajectory localisation map occupancy grid "
        "tracking detection benchmark simulation scenario",
        "感知 激光雷达 毫米波雷达 摄像头 融合 标定 神经网络 训练 数据集 标注 推理 延迟 "
        "规划器 轨迹 定位 地图 占据栅格 跟踪 检测 基准 仿真 场景",
    ),
    "chip_design": (
        "asic netlist rtl verilog synthesis timing closure floorplan placement routing "
        "tapeout foundry process node yield wafer die package verification testbench "
        "coverage power domain clock tree",
        "芯片 网表 寄存器传输级 综合 时序收敛 布局 布线 流片 晶圆厂 工艺节点 良率 晶圆 裸片 "
        "封装 验证 测试平台 覆盖率 电源域 时钟树",
    ),
    "manufacturing": (
        "supplier bill materials procurement lead time inventory quality audit defect "
        "corrective action capacity plan equipment maintenance spare parts logistics "
        "warehouse cost reduction sourcing contract",
        "供应商 物料清单 采购 交期 库存 质量审核 缺陷 纠正措施 产能规划 设备维护 备件 物流 "
        "仓库 降本 寻源 合同",
    ),
    "market": (
        "market share pricing forecast customer segment competitor analysis channel partner "
        "revenue margin roadmap launch campaign distributor quotation tender order backlog "
        "region strategy",
        "市场份额 定价 预测 客户 细分 竞争对手 分析 渠道 合作伙伴 收入 毛利 路线图 发布 "
        "推广 经销商 报价 招标 订单 积压 区域 战略",
    ),
    "software_platform": (
        "service api gateway microservice deployment kubernetes cluster database schema "
        "migration pipeline release rollback monitoring alerting latency throughput cache "
        "queue authentication token",
        "服务 接口 网关 微服务 部署 集群 数据库 模式 迁移 流水线 发布 回滚 监控 告警 延迟 "
        "吞吐量 缓存 队列 认证 令牌",
    ),
    "corporate": (
        "budget headcount policy review approval travel expense training onboarding "
        "compliance audit contract invoice payroll benefit office facility calendar "
        "quarterly report minutes",
        "预算 编制 制度 评审 审批 差旅 报销 培训 入职 合规 审计 合同 发票 薪酬 福利 办公 "
        "设施 日程 季度报告 会议纪要",
    ),
})

#: Words every document and message uses, whatever its topic.
COMMON_WORDS = (
    "the a of and to in for on with by from this that we our results plan review status "
    "next week team update draft final version meeting action item owner deadline risk "
    "issue decision proposal summary data test report target schedule progress"
).split()
COMMON_WORDS_ZH = (
    "我们 本 项目 结果 计划 评审 状态 下周 团队 更新 草稿 最终 版本 会议 行动项 负责人 截止 "
    "风险 问题 决定 方案 总结 数据 测试 报告 目标 进度"
).split()

#: Marking printed on a document of each sensitivity, in English and in Chinese.
MARKINGS: MappingProxyType[int, tuple[str, str]] = MappingProxyType({
    0: ("PUBLIC", "公开"),
    1: ("INTERNAL USE ONLY", "内部"),
    2: ("CONFIDENTIAL", "机密"),
    3: ("SECRET - TRADE SECRET", "秘密 商业秘密"),
    4: ("TOP SECRET - CORE TECHNOLOGY", "绝密 核心技术"),
})

#: Other companies whose confidential documents a newcomer may bring (inbound contamination).
FOREIGN_COMPANIES = (
    ("Northwind Energy", "北风能源"), ("Helios Cells", "赫利俄斯电芯"),
    ("Quantum Drive Systems", "量子驱动"), ("Orion Semiconductor", "猎户座半导体"),
    ("Veltra Mobility", "维尔特拉出行"),
)

#: Generic sites that nobody would flag (besides the shipped categorised domains).
GENERAL_DOMAINS = (
    "google.com bing.com wikipedia.org stackoverflow.com github.com python.org ieee.org "
    "sciencedirect.com springer.com arxiv.org weather.com maps.google.com amazon.com ebay.com "
    "walmart.com bestbuy.com homedepot.com ikea.com booking.com expedia.com tripadvisor.com "
    "airbnb.com delta.com united.com hilton.com marriott.com yelp.com imdb.com netflix.com "
    "spotify.com apple.com microsoft.com adobe.com oracle.com ibm.com intel.com nvidia.com "
    "ti.com analog.com digikey.com mouser.com rs-online.com mathworks.com autodesk.com "
    "solidworks.com ansys.com siemens.com bosch.com tesla.com energy.gov nrel.gov nist.gov "
    "iso.org ul.com sae.org irs.gov usps.com fedex.com ups.com dhl.com webmd.com mayoclinic.org "
    "allrecipes.com espn.com nba.com fifa.com bankofamerica.com chase.com wellsfargo.com "
    "paypal.com zillow.com craigslist.org kbb.com cars.com translate.google.com "
    "docs.python.org developer.mozilla.org w3schools.com medium.com quora.com"
).split()

#: Customer and partner companies of the simulated firm (legitimate external e-mail).
PARTNER_DOMAINS = (
    "voltaris.com lumenpower.com gridwise.net apexmotors.com cellforge.com ampereworks.com "
    "kinetixauto.com bluepeak-energy.com terraforge.com solvance.com novacharge.net "
    "ironbridge-logistics.com precisionparts.com carbonix.com hexamotive.com stratavolt.com "
    "arcadia-fleet.com meridian-utilities.com polaris-grid.com zenith-ev.com "
    "firstlight-materials.com crestline-components.com summit-testlabs.com "
    "orbital-plastics.com keystone-metals.com"
).split()

#: Free mail services people have personal addresses at (all ``webmail`` in the shipped list).
PERSONAL_MAIL_DOMAINS = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com",
                         "icloud.com", "protonmail.com", "163.com", "qq.com")

#: Industry analysts market staff may talk to (a benign look-alike of intermediaries).
ANALYST_DOMAINS = ("gartner.com", "idc.com", "forrester.com", "bnef.com", "woodmac.com")

#: Competitors of the simulated firm (configure them in the workspace to use them).
COMPETITOR_DOMAINS = ("rivalcell.com", "ampcore-tech.com", "zentropower.com")

#: Leak sites used by the public CERT scenarios.
LEAK_DOMAINS = ("wikileaks.org",)

#: Words of web pages by category (CERT's ``content`` column holds such keywords).
WEB_WORDS: MappingProxyType[str, str] = MappingProxyType({
    "general": "home search results page article product price review guide help support "
               "account login download docs reference tutorial question answer forum",
    "news": "news headline politics economy market stocks world sports weather opinion "
            "breaking report analysis election business technology",
    "social": "profile friends post photo like share comment follow message group event "
              "timeline feed story",
    "webmail": "inbox compose message reply forward attachment folder spam contacts settings",
    "cloud_storage": "upload file folder share link sync storage drive download space plan",
    "job_board": "jobs career resume salary apply position hiring engineer manager "
                 "interview recruiter opening location benefits",
    "expert_network": "expert consultation call project client insight industry advisor "
                      "network engagement fee compliance survey",
    "hacking_tools": "keylogger exploit password cracker payload scanner rootkit sniffer "
                     "backdoor remote access tool download",
    "paste_leak": "paste text raw submit document leak anonymous drop archive",
})
