//! Word lists the demo data set is assembled from: Chinese and English names, company names,
//! cities and the words of daily sales work. Chinese entries carry their pinyin, which makes
//! e-mail addresses and web domains (张伟 → zhang.wei@…).
//!
//! Industries are keyed by the `industry` picklist values of `relata_domain::standard`. The
//! demo writes through the record service, which validates them against the live metadata,
//! so a renamed picklist value fails the demo loudly instead of loading bad data.

/// Common Chinese surnames (百家姓, by frequency) with pinyin.
pub const CN_SURNAMES: &[(&str, &str)] = &[
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("高", "gao"),
    ("林", "lin"),
    ("罗", "luo"),
    ("郑", "zheng"),
    ("梁", "liang"),
    ("谢", "xie"),
    ("宋", "song"),
    ("唐", "tang"),
    ("许", "xu"),
    ("韩", "han"),
    ("冯", "feng"),
    ("邓", "deng"),
    ("曹", "cao"),
    ("彭", "peng"),
    ("曾", "zeng"),
    ("肖", "xiao"),
    ("田", "tian"),
    ("董", "dong"),
    ("袁", "yuan"),
    ("潘", "pan"),
    ("于", "yu"),
    ("蒋", "jiang"),
    ("蔡", "cai"),
    ("余", "yu"),
    ("杜", "du"),
    ("叶", "ye"),
    ("程", "cheng"),
    ("苏", "su"),
    ("魏", "wei"),
    ("吕", "lv"),
    ("丁", "ding"),
    ("任", "ren"),
    ("沈", "shen"),
    ("欧阳", "ouyang"),
    ("司马", "sima"),
];

/// Chinese given names with pinyin (one and two characters, as people are named).
pub const CN_GIVEN: &[(&str, &str)] = &[
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("秀英", "xiuying"),
    ("桂英", "guiying"),
    ("建华", "jianhua"),
    ("晓明", "xiaoming"),
    ("志强", "zhiqiang"),
    ("海燕", "haiyan"),
    ("婷婷", "tingting"),
    ("子涵", "zihan"),
    ("浩然", "haoran"),
    ("雨萱", "yuxuan"),
    ("梓轩", "zixuan"),
    ("欣怡", "xinyi"),
    ("俊杰", "junjie"),
    ("思远", "siyuan"),
    ("佳琪", "jiaqi"),
    ("文博", "wenbo"),
    ("伟明", "weiming"),
    ("嘉怡", "jiayi"),
    ("宇航", "yuhang"),
    ("一鸣", "yiming"),
    ("丽华", "lihua"),
    ("国栋", "guodong"),
    ("晓燕", "xiaoyan"),
    ("春梅", "chunmei"),
];

pub const EN_FIRST: &[&str] = &[
    "James",
    "John",
    "Robert",
    "Michael",
    "William",
    "David",
    "Richard",
    "Joseph",
    "Thomas",
    "Charles",
    "Mary",
    "Patricia",
    "Jennifer",
    "Linda",
    "Elizabeth",
    "Barbara",
    "Susan",
    "Jessica",
    "Sarah",
    "Karen",
    "Emma",
    "Olivia",
    "Sophia",
    "Oliver",
    "Liam",
    "Noah",
    "Lucas",
    "Anna",
    "Laura",
    "Daniel",
    "Emily",
    "Grace",
    "Hannah",
    "Peter",
    "Paul",
    "Mark",
    "Helen",
    "Claire",
    "Ethan",
    "Chloe",
    "Kevin",
    "Rachel",
];

pub const EN_LAST: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson",
    "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris",
    "Clark", "Lewis", "Walker", "Hall", "Allen", "Young", "King", "Wright", "Scott", "Green",
    "Baker", "Adams", "Nelson", "Carter", "Mitchell", "Roberts", "Turner", "Phillips", "Campbell",
    "Parker", "Evans", "Edwards", "Schmidt", "Dubois", "Rossi", "Tanaka", "Kim", "Nguyen",
];

/// A city: its name, its region (province or country) and its telephone prefix.
pub struct City {
    pub name: &'static str,
    pub region: &'static str,
    pub phone_prefix: &'static str,
}

const fn city(name: &'static str, region: &'static str, phone_prefix: &'static str) -> City {
    City {
        name,
        region,
        phone_prefix,
    }
}

/// Cities of mainland China; the prefix is the area code of landlines.
pub const CN_CITIES: &[City] = &[
    city("上海", "上海市", "021"),
    city("北京", "北京市", "010"),
    city("深圳", "广东省", "0755"),
    city("广州", "广东省", "020"),
    city("杭州", "浙江省", "0571"),
    city("成都", "四川省", "028"),
    city("南京", "江苏省", "025"),
    city("苏州", "江苏省", "0512"),
    city("武汉", "湖北省", "027"),
    city("西安", "陕西省", "029"),
    city("天津", "天津市", "022"),
    city("重庆", "重庆市", "023"),
    city("青岛", "山东省", "0532"),
    city("厦门", "福建省", "0592"),
    city("长沙", "湖南省", "0731"),
    city("合肥", "安徽省", "0551"),
    city("宁波", "浙江省", "0574"),
    city("无锡", "江苏省", "0510"),
    city("郑州", "河南省", "0371"),
    city("济南", "山东省", "0531"),
];

/// Cities abroad (and Hong Kong); the prefix is the international dialling code and area.
pub const INTL_CITIES: &[City] = &[
    city("London", "United Kingdom", "+44 20"),
    city("New York", "United States", "+1 212"),
    city("San Francisco", "United States", "+1 415"),
    city("Singapore", "Singapore", "+65 6"),
    city("Hong Kong", "香港特别行政区", "+852 2"),
    city("Tokyo", "Japan", "+81 3"),
    city("Sydney", "Australia", "+61 2"),
    city("Berlin", "Germany", "+49 30"),
    city("Paris", "France", "+33 1"),
    city("Toronto", "Canada", "+1 416"),
    city("Dubai", "United Arab Emirates", "+971 4"),
    city("Seoul", "South Korea", "+82 2"),
];

/// Brand names of Chinese companies (字号) with pinyin.
pub const CN_BRANDS: &[(&str, &str)] = &[
    ("华远", "huayuan"),
    ("恒通", "hengtong"),
    ("星辰", "xingchen"),
    ("瑞丰", "ruifeng"),
    ("金桥", "jinqiao"),
    ("中联", "zhonglian"),
    ("东方", "dongfang"),
    ("天成", "tiancheng"),
    ("鼎盛", "dingsheng"),
    ("汇智", "huizhi"),
    ("博远", "boyuan"),
    ("新锐", "xinrui"),
    ("嘉禾", "jiahe"),
    ("同创", "tongchuang"),
    ("远景", "yuanjing"),
    ("宏图", "hongtu"),
    ("云帆", "yunfan"),
    ("朗润", "langrun"),
    ("智达", "zhida"),
    ("安泰", "antai"),
    ("海纳", "haina"),
    ("启明", "qiming"),
    ("易联", "yilian"),
    ("盛世", "shengshi"),
    ("聚源", "juyuan"),
    ("长风", "changfeng"),
    ("蓝海", "lanhai"),
    ("润泽", "runze"),
    ("正和", "zhenghe"),
    ("凯旋", "kaixuan"),
    ("明德", "mingde"),
    ("百川", "baichuan"),
];

/// The trade word of a Chinese company name, its pinyin and the `industry` value it implies.
pub const CN_TRADES: &[(&str, &str, &str)] = &[
    ("科技", "keji", "technology"),
    ("软件", "ruanjian", "technology"),
    ("信息技术", "xinxi", "technology"),
    ("智能制造", "zhizao", "manufacturing"),
    ("机械", "jixie", "manufacturing"),
    ("电子", "dianzi", "manufacturing"),
    ("投资", "touzi", "finance"),
    ("金融服务", "jinrong", "finance"),
    ("商贸", "shangmao", "retail"),
    ("连锁零售", "lingshou", "retail"),
    ("医疗器械", "yiliao", "healthcare"),
    ("生物医药", "yiyao", "healthcare"),
    ("教育科技", "jiaoyu", "education"),
    ("新能源", "nengyuan", "energy"),
    ("电力工程", "dianli", "energy"),
    ("物流", "wuliu", "logistics"),
    ("供应链管理", "gongyinglian", "logistics"),
    ("企业咨询", "zixun", "other"),
];

pub const CN_SUFFIXES: &[&str] = &["有限公司", "有限公司", "股份有限公司", "集团有限公司"];

pub const EN_BRANDS: &[&str] = &[
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Blue Harbor",
    "Silverline",
    "Redwood",
    "Summit Peak",
    "Evergreen",
    "Brightstone",
    "Oakridge",
    "Granite",
    "Harborview",
    "Skyline",
    "Pioneer",
    "Atlas",
    "Horizon",
    "Meridian",
    "Crescent",
    "Ironbridge",
    "Lakeside",
    "Westgate",
    "Kestrel",
];

/// The trade word of an English company name and the `industry` value it implies.
pub const EN_TRADES: &[(&str, &str)] = &[
    ("Software", "technology"),
    ("Systems", "technology"),
    ("Analytics", "technology"),
    ("Manufacturing", "manufacturing"),
    ("Industries", "manufacturing"),
    ("Capital", "finance"),
    ("Financial", "finance"),
    ("Trading", "retail"),
    ("Foods", "retail"),
    ("Health", "healthcare"),
    ("Medical", "healthcare"),
    ("Learning", "education"),
    ("Energy", "energy"),
    ("Logistics", "logistics"),
    ("Freight", "logistics"),
    ("Consulting", "other"),
];

pub const EN_SUFFIXES: &[&str] = &["Ltd", "Inc.", "LLC", "GmbH", "Pte. Ltd.", "Co."];

pub const CN_STREETS: &[&str] = &[
    "人民路",
    "中山路",
    "建设路",
    "解放路",
    "长江路",
    "科技园路",
    "创新大道",
    "世纪大道",
    "高新路",
    "滨江大道",
    "南京西路",
    "天府大道",
    "文三路",
    "深南大道",
];

pub const EN_STREETS: &[&str] = &[
    "High Street",
    "Market Street",
    "King's Road",
    "Park Avenue",
    "Harbour Road",
    "Queen Street",
    "Mission Street",
    "Orchard Road",
    "Bay Street",
    "Station Road",
];

/// Job titles, Chinese and English, paired with a department.
pub const CN_TITLES: &[(&str, &str)] = &[
    ("总经理", "总经办"),
    ("销售总监", "销售部"),
    ("采购经理", "采购部"),
    ("技术总监", "技术部"),
    ("IT 经理", "信息中心"),
    ("财务总监", "财务部"),
    ("市场经理", "市场部"),
    ("运营主管", "运营部"),
    ("项目经理", "项目部"),
    ("董事长助理", "总经办"),
    ("客服经理", "客户服务部"),
];

pub const EN_TITLES: &[(&str, &str)] = &[
    ("CEO", "Management"),
    ("Sales Director", "Sales"),
    ("Procurement Manager", "Procurement"),
    ("CTO", "Engineering"),
    ("IT Manager", "IT"),
    ("CFO", "Finance"),
    ("Marketing Manager", "Marketing"),
    ("Operations Lead", "Operations"),
    ("Project Manager", "Projects"),
    ("Head of Partnerships", "Business Development"),
];

/// What a deal is about, Chinese and English.
pub const CN_DEALS: &[&str] = &[
    "CRM 系统升级",
    "年度服务续约",
    "数据中台建设",
    "营销自动化项目",
    "客服中心改造",
    "500 席位订阅",
    "私有化部署",
    "渠道管理平台",
    "销售培训服务",
    "移动外勤系统",
];

pub const EN_DEALS: &[&str] = &[
    "CRM rollout",
    "Annual renewal",
    "Data platform",
    "Marketing automation",
    "Support centre upgrade",
    "500-seat subscription",
    "On-premise deployment",
    "Partner portal",
    "Sales training",
    "Field service app",
];

pub const CN_TASKS: &[&str] = &[
    "电话跟进",
    "发送报价单",
    "安排产品演示",
    "准备合同草案",
    "回访客户",
    "确认回款计划",
    "提交方案",
    "约见决策人",
    "整理需求清单",
    "发送会议纪要",
];

pub const EN_TASKS: &[&str] = &[
    "Follow-up call",
    "Send quote",
    "Schedule a demo",
    "Draft the contract",
    "Customer check-in",
    "Confirm the payment plan",
    "Submit the proposal",
    "Meet the decision maker",
    "Collect requirements",
    "Send meeting notes",
];

pub const CN_NOTE_TITLES: &[&str] = &["拜访纪要", "需求沟通", "电话记录", "会议纪要", "竞品情况"];
pub const EN_NOTE_TITLES: &[&str] = &[
    "Visit summary",
    "Requirements call",
    "Call notes",
    "Meeting notes",
    "Competitor notes",
];

pub const CN_CONCERNS: &[&str] = &[
    "价格和付款方式",
    "数据安全与私有化部署",
    "上线周期",
    "与现有 ERP 的集成",
    "移动端体验",
    "售后服务响应时间",
];

pub const EN_CONCERNS: &[&str] = &[
    "pricing and payment terms",
    "data security",
    "time to go live",
    "integration with their ERP",
    "the mobile experience",
    "support response times",
];

pub const CN_NEXT_STEPS: &[&str] = &[
    "下周安排技术交流",
    "月底前提交正式报价",
    "邀请客户参观样板客户",
    "安排高层拜访",
    "等待客户内部立项",
];

pub const EN_NEXT_STEPS: &[&str] = &[
    "technical workshop next week",
    "formal quote by month end",
    "reference customer visit",
    "executive meeting",
    "waiting for budget approval",
];

/// Free mail domains used by leads who write from a personal address.
pub const CN_FREE_MAIL: &[&str] = &["163.com", "qq.com", "126.com", "sina.com"];
pub const EN_FREE_MAIL: &[&str] = &["gmail.com", "outlook.com", "yahoo.com"];

/// Mobile number prefixes in mainland China.
pub const CN_MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "156", "158", "159", "166", "176", "177", "180", "181", "186", "187", "188", "189", "198",
    "199",
];
