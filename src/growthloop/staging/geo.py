"""Chinese geography used by profiling: province to region, city to city tier.

City tiers follow the common 一线 / 新一线 / 二线 / 三线 / 四线及以下 ranking. A city that is not
listed is 四线及以下; a dataset may bring its own city_tier column instead.
"""

from __future__ import annotations

PROVINCE_REGION: dict[str, str] = {
    "北京": "华北", "天津": "华北", "河北": "华北", "山西": "华北", "内蒙古": "华北",
    "辽宁": "东北", "吉林": "东北", "黑龙江": "东北",
    "上海": "华东", "江苏": "华东", "浙江": "华东", "安徽": "华东", "福建": "华东",
    "江西": "华东", "山东": "华东",
    "河南": "华中", "湖北": "华中", "湖南": "华中",
    "广东": "华南", "广西": "华南", "海南": "华南",
    "重庆": "西南", "四川": "西南", "贵州": "西南", "云南": "西南", "西藏": "西南",
    "陕西": "西北", "甘肃": "西北", "青海": "西北", "宁夏": "西北", "新疆": "西北",
}

TIER_1 = "一线"
TIER_NEW_1 = "新一线"
TIER_2 = "二线"
TIER_3 = "三线"
TIER_4 = "四线及以下"
CITY_TIERS: tuple[str, ...] = (TIER_1, TIER_NEW_1, TIER_2, TIER_3, TIER_4)

CITY_TIER: dict[str, str] = {
    "北京": TIER_1, "上海": TIER_1, "广州": TIER_1, "深圳": TIER_1,
    "成都": TIER_NEW_1, "杭州": TIER_NEW_1, "重庆": TIER_NEW_1, "西安": TIER_NEW_1,
    "苏州": TIER_NEW_1, "武汉": TIER_NEW_1, "南京": TIER_NEW_1, "天津": TIER_NEW_1,
    "郑州": TIER_NEW_1, "长沙": TIER_NEW_1, "东莞": TIER_NEW_1, "佛山": TIER_NEW_1,
    "宁波": TIER_NEW_1, "青岛": TIER_NEW_1, "沈阳": TIER_NEW_1,
    "合肥": TIER_2, "昆明": TIER_2, "无锡": TIER_2, "厦门": TIER_2, "济南": TIER_2,
    "福州": TIER_2, "温州": TIER_2, "大连": TIER_2, "哈尔滨": TIER_2, "长春": TIER_2,
    "泉州": TIER_2, "石家庄": TIER_2, "南宁": TIER_2, "金华": TIER_2, "贵阳": TIER_2,
    "南昌": TIER_2, "常州": TIER_2, "嘉兴": TIER_2, "珠海": TIER_2, "南通": TIER_2,
    "惠州": TIER_2, "太原": TIER_2, "中山": TIER_2, "徐州": TIER_2, "绍兴": TIER_2,
    "台州": TIER_2, "烟台": TIER_2, "兰州": TIER_2, "潍坊": TIER_2, "临沂": TIER_2,
    "海口": TIER_3, "乌鲁木齐": TIER_3, "洛阳": TIER_3, "芜湖": TIER_3, "汕头": TIER_3,
    "呼和浩特": TIER_3, "银川": TIER_3, "西宁": TIER_3, "桂林": TIER_3, "赣州": TIER_3,
    "绵阳": TIER_3, "宜昌": TIER_3, "襄阳": TIER_3, "岳阳": TIER_3, "遵义": TIER_3,
    "湛江": TIER_3, "保定": TIER_3, "唐山": TIER_3, "邯郸": TIER_3, "大同": TIER_3,
}

UNKNOWN = "未知"


def region_of(province: str | None) -> str:
    """Region (华东, 华北, ...) of a province, 未知 when it is not a province we know.

    Parameters
    ----------
    province : str or None
        A province's short name as PROVINCE_REGION writes it ("广东", not "广东省").

    Returns
    -------
    str
        The region, or 未知.

    Examples
    --------
    >>> region_of("广东"), region_of(None)
    ('华南', '未知')
    """
    if province is None:
        return UNKNOWN
    return PROVINCE_REGION.get(province, UNKNOWN)


def tier_of(city: str | None) -> str:
    """City tier of a city name; cities not listed are 四线及以下, a missing city is 未知.

    Parameters
    ----------
    city : str or None
        A city's name ("深圳"); None or "" is missing.

    Returns
    -------
    str
        一线, 新一线, 二线, 三线, 四线及以下 or 未知.

    Examples
    --------
    >>> tier_of("深圳"), tier_of("南阳"), tier_of("")
    ('一线', '四线及以下', '未知')
    """
    if city is None or city == "":
        return UNKNOWN
    return CITY_TIER.get(city, TIER_4)
