"""The executive summary that opens a book: headline numbers, this campaign's result, top actions.

The summary does not recompute anything. It reads the numbers the chapters glued into their
executed notebooks (myst-nb / scrapbook glue outputs), remembers the section each number was
glued in, and turns them into three blocks, each number linked to its section:

- this campaign's result (chapter 6: verdict, uplift with its interval, ROI, cost);
- the three actions worth most, ranked by their expected revenue (a point estimate) with its
  range beside it;
- the headline numbers of every chapter.

Expected value. Every action is valued in one unit, platform revenue (收入, yuan), so actions of
different chapters can be ranked against each other. A chapter may glue its own: a key
``<prefix>_<name>_value_yuan`` (expected revenue) with ``<prefix>_<name>_action`` (one sentence),
optionally ``<prefix>_<name>_value_low_yuan`` / ``_value_high_yuan`` (its range) and
``<prefix>_<name>_value_users``. For the others, `DERIVED_ACTIONS` derives it from numbers the
chapters already glue:

- *value per investor* V = chapter 5's LTV per registered user at its horizon
  (``ret_ltv_at_month``) × registered users (``prof_users``) / investors (``prof_investors``):
  the revenue an average investor brings over that horizon;
- a group of users reached by a campaign is worth, at most, users × V (every one of them becomes
  or stays an average investor: the ceiling); what a contact is expected to bring is the response
  uplift this book measured, chapter 6's uplift against its holdout (``review_uplift``), so the
  expected value is users × uplift × V and its range uses the uplift's interval
  (``review_ci_low`` … ``review_ci_high``). Without a measured uplift only the ceiling is known;
- a group of investors described by its share of the money: share × investors × V as the
  ceiling, × the uplift for the expected value;
- chapter 3's budget shift: the revenue gain chapter 3 estimates (``attr_budget_shift_value``),
  a point estimate without a range;
- chapter 6's next round: its planned incremental responders (``review_plan_incremental``, with
  ``review_plan_inc_low`` / ``_high`` when glued) × the revenue per incremental responder this
  campaign measured.

Ranking: actions with an expected value first, highest first; then those with only a ceiling,
highest first; then by users, then by name. A chapter's own glued action replaces the derived
one with the same name.

Keys. Every glue key the summary reads is declared here, once: `HEADLINES` (the headline table),
`VALUE_KEYS` (V), `CAMPAIGN_KEYS` (the campaign block) and each rule's `needs` and `optional`
in `DERIVED_ACTIONS`; `SUMMARY_KEYS` is all of them. The readers get only the declared keys
(reading another is an error, not a silent blank), and tests/test_summary_keys.py fails when a
declared key is glued by no committed chapter. Glued values are numbers, never formatted text.
"""

from __future__ import annotations

import ast
import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import nbformat
import pandas as pd
import yaml
from docutils.nodes import make_id

from growthloop import PROJECT_ROOT
from growthloop.errors import NotAvailable
from growthloop.present.findings import size_uncertain
from growthloop.present.glue import SKIP_PREFIX
from growthloop.present.tables import cell_label
from growthloop.present.units import count, yuan

SUMMARY_STEM = "99_summary"
T = TypeVar("T", str, Path)
#: The data-quality chapter: it lists the other chapters' skipped sections, so it runs after them.
DATA_QUALITY_STEM = "00_data_quality"
#: The next-campaign chapter: it plans for the summary's first action, so it runs after the
#: chapters that glue actions, and before the data-quality chapter (which lists its skipped
#: sections too) and the summary.
NEXT_CAMPAIGN_STEM = "07_next_campaign"
#: The chapters that read the others' executed notebooks, in the order they run, last.
READER_STEMS: tuple[str, ...] = (NEXT_CAMPAIGN_STEM, DATA_QUALITY_STEM, SUMMARY_STEM)
GLUE_MIME = "application/papermill.record/"
VALUE_SUFFIX = "_value_yuan"
TOP_ACTIONS = 3
#: What V (revenue per investor) is made of: chapter 5's LTV, chapter 1's users and investors.
VALUE_KEYS: tuple[str, ...] = ("ret_ltv_at_month", "prof_users", "prof_investors")
#: Chapter 6's numbers in the campaign block (shown without the review_ prefix).
CAMPAIGN_KEYS: tuple[str, ...] = (
    "review_uplift", "review_campaign", "review_verdict", "review_rate_t", "review_rate_c",
    "review_ci_low", "review_ci_high", "review_inc_responders", "review_cost",
    "review_inc_revenue", "review_roi", "review_cost_per_incremental", "review_inc_low",
    "review_inc_high", "review_inc_amount", "review_p_value", "review_verdict_code",
)


class Declared(dict):
    """Glued values restricted to the keys a reader declared.

    Reading any other key raises KeyError (a typo or an undeclared key is an error, not a silent
    blank); a declared key a chapter did not glue reads as missing (``get`` gives the default).

    Parameters
    ----------
    values : dict of str to Any
        Every glued value, by key.
    keys : tuple of str
        The keys the reader declared.
    """

    def __init__(self, values: dict[str, Any], keys: tuple[str, ...]) -> None:
        super().__init__({k: values[k] for k in keys if k in values})
        self.keys_declared = frozenset(keys)

    def _check(self, key: str) -> None:
        if key not in self.keys_declared:
            raise KeyError(f"glue key {key!r} is read but not declared (summary.SUMMARY_KEYS)")

    def __getitem__(self, key: str) -> Any:
        self._check(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        """Read a declared key, or `default` when no chapter glued it.

        Parameters
        ----------
        key : str
            A declared glue key.
        default : Any, default None
            What a missing key reads as.

        Returns
        -------
        Any
            The glued value, or `default`.

        Raises
        ------
        KeyError
            When `key` was not declared.
        """
        self._check(key)
        return super().get(key, default)


@dataclass(frozen=True)
class Glued:
    """One glued value with the chapter page and section it was glued in."""

    key: str
    value: Any
    chapter: str
    section: str | None
    anchor: str | None

    @property
    def href(self) -> str:
        """Relative link from a sibling page (the summary lives next to the chapters)."""
        return f"{self.chapter}.html" + (f"#{self.anchor}" if self.anchor else "")


@dataclass
class ChapterGlue:
    """The glued values of one executed chapter notebook."""

    stem: str
    title: str
    values: dict[str, Glued] = field(default_factory=dict)


@dataclass
class Action:
    """One recommended action with its expected revenue (yuan), the range and the people it reaches.

    `expected_yuan` is a point estimate, `low_yuan` / `high_yuan` its range (None when the
    chapter gives none), `ceiling_yuan` what the action is worth at most when every person
    reached converted (None when the estimate is not per person).
    """

    name: str
    text: str
    expected_yuan: float | None
    users: int | None
    basis: str
    link: Glued | None
    low_yuan: float | None = None
    high_yuan: float | None = None
    ceiling_yuan: float | None = None

    @property
    def value_text(self) -> str:
        """The expected revenue in yuan (`units.yuan`), else the ceiling ("至多 …"), else —."""
        if self.expected_yuan is not None:
            return yuan(self.expected_yuan)
        if self.ceiling_yuan is not None:
            return f"至多 {yuan(self.ceiling_yuan)}"
        return "—"

    @property
    def range_text(self) -> str:
        """The range in yuan ("a 至 b"), or "" when there is none."""
        if self.low_yuan is None or self.high_yuan is None:
            return ""
        return f"{yuan(self.low_yuan)} 至 {yuan(self.high_yuan)}"


@dataclass
class Summary:
    """Everything the summary page shows."""

    chapters: list[ChapterGlue]
    values: dict[str, Glued]
    actions: list[Action]
    value_per_investor: float | None

    def get(self, key: str, default: Any = None) -> Any:
        """Read a glued value by key, whatever chapter glued it.

        Parameters
        ----------
        key : str
            The glue key.
        default : Any, default None
            What a missing key reads as.

        Returns
        -------
        Any
            The value, or `default`.
        """
        glued = self.values.get(key)
        return glued.value if glued is not None else default

    @property
    def top_actions(self) -> list[Action]:
        """The TOP_ACTIONS (3) actions worth most (`rank_actions`)."""
        return self.actions[:TOP_ACTIONS]

    @property
    def campaign(self) -> dict[str, Any] | None:
        """This campaign's result from chapter 6 (CAMPAIGN_KEYS without their review_ prefix).

        None when the run has no chapter 6.
        """
        if "review_uplift" not in self.values:
            return None
        return {k[len("review_"):]: self.values[k].value for k in CAMPAIGN_KEYS if k in self.values}


def _decode(data: dict[str, Any]) -> Any:
    """A glued value back as Python: plain int/float/str are stored as their repr."""
    if f"{GLUE_MIME}application/json" in data:
        return data[f"{GLUE_MIME}application/json"]
    text = data.get(f"{GLUE_MIME}text/plain")
    if text is None:
        return None
    if text == "nan":
        return float("nan")
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _heading(source: str, level: int) -> str | None:
    mark = "#" * level + " "
    for line in source.splitlines():
        if line.startswith(mark):
            return line[len(mark):].strip()
    return None


def read_glue(path: str | Path) -> ChapterGlue:
    """Read every value glued in an executed notebook, with the `##` section it was glued under.

    Parameters
    ----------
    path : str or Path
        An executed chapter notebook.

    Returns
    -------
    ChapterGlue
        Its stem, title (the first `#` heading, else the stem) and glued values by key, each with
        its section and anchor.
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    title, section = path.stem, None
    out = ChapterGlue(stem=path.stem, title=title)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            top = _heading(cell.source, 1)
            if top and out.title == path.stem:
                out.title = top
            sub = _heading(cell.source, 2)
            if sub:
                section = sub
            continue
        for output in cell.get("outputs", []):
            meta = output.get("metadata", {}).get("scrapbook")
            if not meta or "data" not in output:
                continue
            anchor = make_id(section) if section else None
            out.values[meta["name"]] = Glued(meta["name"], _decode(output["data"]), path.stem,
                                             section, anchor or None)
    return out


def book_chapters(chapters_dir: Path) -> list[Path]:
    """List the executed chapter notebooks of a book, in book order, without the summary itself.

    When the book's _toc.yml sits beside chapters/, only chapters listed in it are used, so
    every link of the summary points at a page that is built.

    Parameters
    ----------
    chapters_dir : Path
        The folder of executed notebooks (``NN_<stage>.ipynb``).

    Returns
    -------
    list of Path
        The notebooks, sorted by name.
    """
    found = sorted(p for p in chapters_dir.glob("[0-9][0-9]_*.ipynb") if p.stem != SUMMARY_STEM)
    toc = chapters_dir.parent / "_toc.yml"
    if toc.exists():
        raw = yaml.safe_load(toc.read_text(encoding="utf-8")) or {}
        listed = {str(c.get("file", "")) for part in raw.get("parts", []) for c in part.get("chapters", [])}
        listed.add(str(raw.get("root", "")))
        rel = chapters_dir.name
        found = [p for p in found if f"{rel}/{p.stem}" in listed]
    return found


def _number(value: Any) -> float | None:
    """A glued number as a float; None for text, a missing value, NaN or a bool (chapters glue
    numbers as numbers, formatted in the page, so text is never parsed back)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if isinstance(value, float) and math.isnan(value) else float(value)


def value_per_investor(values: dict[str, Glued]) -> float | None:
    """Revenue per investor V at chapter 5's LTV horizon (see the module docstring).

    V = ``ret_ltv_at_month`` × ``prof_users`` / ``prof_investors``.

    Parameters
    ----------
    values : dict of str to Glued
        The book's glued values.

    Returns
    -------
    float or None
        V in yuan; None when a number is missing, or users or investors are 0.
    """
    v = Declared({k: g.value for k, g in values.items()}, VALUE_KEYS)
    ltv = _number(v.get("ret_ltv_at_month"))
    users = _number(v.get("prof_users"))
    investors = _number(v.get("prof_investors"))
    if ltv is None or not users or not investors:
        return None
    return ltv * users / investors


@dataclass(frozen=True)
class Rates:
    """What turns people into expected revenue: V and the response uplift the book measured.

    Attributes
    ----------
    vpi : float or None
        Revenue per investor V (`value_per_investor`).
    uplift, uplift_low, uplift_high : float or None
        Chapter 6's response uplift against its holdout and its interval (fractions); None
        without a campaign review with an effect.
    """

    vpi: float | None = None
    uplift: float | None = None
    uplift_low: float | None = None
    uplift_high: float | None = None

    def people(self, users: float) -> Estimate:
        """Value `users` people reached by a contact: users × uplift × V, its range, users × V.

        Parameters
        ----------
        users : float
            People reached (or investors, weighted by their share of the money).

        Returns
        -------
        Estimate
            expected, low and high from the uplift and its interval (None without one);
            ceiling users × V (None without V, and then nothing else either).
        """
        ceiling = users * self.vpi if self.vpi is not None else None
        if ceiling is None or self.uplift is None:
            return Estimate(None, None, None, ceiling)
        low = ceiling * self.uplift_low if self.uplift_low is not None else None
        high = ceiling * self.uplift_high if self.uplift_high is not None else None
        return Estimate(ceiling * self.uplift, low, high, ceiling)


@dataclass(frozen=True)
class Estimate:
    """An action's value in yuan: expected (point estimate), range, ceiling; None when unknown."""

    expected: float | None
    low: float | None = None
    high: float | None = None
    ceiling: float | None = None


def campaign_rates(values: dict[str, Any], vpi: float | None) -> Rates:
    """The `Rates` of a book: V and chapter 6's uplift with its interval when glued as numbers.

    Parameters
    ----------
    values : dict of str to Any
        Glued values by key (plain values).
    vpi : float or None
        V.

    Returns
    -------
    Rates
        uplift, uplift_low and uplift_high are None unless all three are numbers.
    """
    v = Declared(values, CAMPAIGN_KEYS)
    found = [_number(v.get(k)) for k in ("review_uplift", "review_ci_low", "review_ci_high")]
    if any(x is None for x in found):
        return Rates(vpi)
    return Rates(vpi, *found)


@dataclass(frozen=True)
class ActionRule:
    """How to derive an action and its value from one chapter's glued numbers.

    `needs`: the keys without which there is no action; `optional`: keys read when present.
    `build` gets those keys only (a `Declared` mapping).

    Attributes
    ----------
    name : str
        The action's name; a chapter's own glued action of that name replaces the rule.
    needs : tuple of str
        Glue keys that must be present.
    link : str
        The glue key whose section the action links to.
    build : callable
        ``build(values, rates)`` returns (text, Estimate, users or None, basis), or None when
        the glued numbers cannot make an action.
    optional : tuple of str
        Glue keys read when present.
    """

    name: str
    needs: tuple[str, ...]
    link: str
    build: Callable[[dict[str, Any], Rates], tuple[str, Estimate, int | None, str] | None]
    optional: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        """Every glue key the rule reads: `needs`, then `optional`."""
        return self.needs + self.optional


#: How a reach-out's value is worked out, in the summary's words.
def _people_basis(estimate: Estimate, who: str = "人数") -> str:
    """How a reach-out's value was worked out: `who` (the people counted) times what the
    estimate had: the measured uplift and V, only V (a ceiling), or neither."""
    if estimate.ceiling is None:
        return f"{who} × V（缺少每名投资人的收入 V，无法折算成收入）"
    if estimate.expected is None:
        return f"{who} × V（没有测得的响应增量，只有上限）"
    return f"{who} × 第 6 章测得的响应增量 × 每名投资人的收入 V（区间取增量的置信区间）"


def _funnel_stalled(v: dict[str, Any], rates: Rates):
    card, invest = int(v["funnel_stalled_card"]), int(v["funnel_stalled_invest"])
    users = card + invest
    text = (f"给 {cell_label(users)} 名滞留用户发触发提醒：注册后未绑卡 {cell_label(card)} 人、绑卡后未首投 {cell_label(invest)} 人")
    estimate = rates.people(users)
    return text, estimate, users, _people_basis(estimate)


def _attr_budget(v: dict[str, Any], rates: Rates):
    gain = _number(v["attr_budget_shift_value"])
    share = _number(v.get("attr_budget_shift")) or 0.0
    text = (f"把 {v['attr_budget_worst']} {share:.0%} 的预算挪给 {v['attr_budget_best']}，先测试 2–4 周")
    horizon = v.get("attr_horizon", "")
    return text, Estimate(gain), None, f"第 3 章估算的 {horizon} 天收入增量（点估计，无区间）"


def _rfm_risk(v: dict[str, Any], rates: Rates):
    investors = _number(v["rfm_investors"]) or 0.0
    share, amount = _number(v["rfm_group_risk_share"]), _number(v["rfm_group_risk_amount_share"])
    if share is None or amount is None:
        return None
    users = int(round(share * investors))
    winback = v.get("rfm_winback_users")
    first = f"，其中重要挽留 {cell_label(int(winback))} 人优先" if winback is not None else ""
    text = (f"召回流失风险客 {cell_label(users)} 人 (占投资额 {amount:.1%}){first}")
    estimate = rates.people(amount * investors)  # their money's share of the investors, in investors
    return text, estimate, users, _people_basis(estimate, "投资额占比 × 投资人数")


def _ret_dormant(v: dict[str, Any], rates: Rates):
    users = int(v["ret_at_risk_users"])
    text = (f"按不活跃天数由短到长召回 {cell_label(users)} 名沉睡用户，并留出对照组")
    estimate = rates.people(users)
    return text, estimate, users, _people_basis(estimate)


def _review_next(v: dict[str, Any], rates: Rates):
    inc = _number(v["review_plan_incremental"]) or 0.0
    targets = int(_number(v["review_plan_targets"]) or 0)
    per = None
    responders = _number(v.get("review_inc_responders"))
    revenue = _number(v.get("review_inc_revenue"))
    if responders and responders > 0 and revenue is not None:
        per = revenue / responders
    names = v.get("review_plan_names", "")
    offer = v.get("review_offer", "")
    text = (f"下一轮向 {names} 共 {cell_label(targets)} 人发送「{offer}」" if names else
            f"下一轮向 {cell_label(targets)} 人发送「{offer}」")
    if per is None:
        return text, Estimate(None), targets, "计划增量响应者 × 本次每个增量响应者的收入（本次没有收入数字）"
    low, high = _number(v.get("review_plan_inc_low")), _number(v.get("review_plan_inc_high"))
    estimate = Estimate(inc * per, low * per if low is not None else None,
                        high * per if high is not None else None)
    return text, estimate, targets, "计划增量响应者 × 本次每个增量响应者的收入"


DERIVED_ACTIONS: tuple[ActionRule, ...] = (
    ActionRule("funnel_stalled", ("funnel_stalled_card", "funnel_stalled_invest"),
               "funnel_stalled_card", _funnel_stalled),
    ActionRule("attr_budget", ("attr_budget_shift_value", "attr_budget_best", "attr_budget_worst"),
               "attr_budget_shift_value", _attr_budget,
               optional=("attr_budget_shift", "attr_horizon")),
    ActionRule("rfm_risk", ("rfm_investors", "rfm_group_risk_share", "rfm_group_risk_amount_share"),
               "rfm_group_risk_share", _rfm_risk, optional=("rfm_winback_users",)),
    ActionRule("ret_dormant", ("ret_at_risk_users",), "ret_at_risk_users", _ret_dormant),
    ActionRule("review_next", ("review_plan_incremental", "review_plan_targets"),
               "review_plan_incremental", _review_next,
               optional=("review_inc_responders", "review_inc_revenue", "review_plan_names",
                         "review_offer", "review_plan_inc_low", "review_plan_inc_high")),
)


def glued_actions(values: dict[str, Glued]) -> list[Action]:
    """Collect the actions a chapter glued itself: `<name>_value_yuan` with `<name>_action`.

    Parameters
    ----------
    values : dict of str to Glued
        The book's glued values.

    Returns
    -------
    list of Action
        One per value with its action text (``<name>_value_low_yuan``, ``_value_high_yuan`` and
        ``_value_users`` read when glued); unranked.
    """
    out = []
    for key, glued in values.items():
        if not key.endswith(VALUE_SUFFIX) or key.endswith(("_value_low_yuan", "_value_high_yuan")):
            continue
        name = key[: -len(VALUE_SUFFIX)]
        text = values.get(f"{name}_action")
        if text is None:
            continue
        extra = {k: values.get(f"{name}_value_{k}") for k in ("low_yuan", "high_yuan", "users")}
        users = extra["users"]
        out.append(Action(name, str(text.value), _number(glued.value),
                          int(users.value) if users is not None else None, "章节自行给出", glued,
                          low_yuan=_number(extra["low_yuan"].value) if extra["low_yuan"] else None,
                          high_yuan=_number(extra["high_yuan"].value) if extra["high_yuan"] else None))
    return out


def rank_actions(actions: list[Action]) -> list[Action]:
    """Rank actions by expected revenue, highest first; then those with only a ceiling, by it;
    then by users; then name.

    Parameters
    ----------
    actions : list of Action
        The actions.

    Returns
    -------
    list of Action
        A new, sorted list.
    """
    def key(a: Action) -> tuple:
        if a.expected_yuan is not None:
            return (0, -a.expected_yuan, -(a.users or 0), a.name)
        if a.ceiling_yuan is not None:
            return (1, -a.ceiling_yuan, -(a.users or 0), a.name)
        return (2, 0.0, -(a.users or 0), a.name)

    return sorted(actions, key=key)


def _bad(x: float | None) -> bool:
    return x is not None and math.isnan(x)


def derive_actions(values: dict[str, Glued]) -> list[Action]:
    """Gather every action: glued ones first; a derived rule only when its name was not glued.

    A derived action needs all its rule's keys; one whose value is NaN, or whose ceiling (what
    it could bring at most) is not positive, is left out. An expected value may be negative (a
    campaign whose uplift was below zero): it is shown and ranked last among the valued ones.

    Parameters
    ----------
    values : dict of str to Glued
        The book's glued values.

    Returns
    -------
    list of Action
        Ranked by `rank_actions`.
    """
    plain = {k: g.value for k, g in values.items()}
    rates = campaign_rates(plain, value_per_investor(values))
    own = glued_actions(values)
    names = {a.name for a in own}
    derived = []
    for rule in DERIVED_ACTIONS:
        if rule.name in names or not all(k in values for k in rule.needs):
            continue
        built = rule.build(Declared(plain, rule.keys), rates)
        if built is None:  # the chapter glued a number the rule cannot use (NaN: no data)
            continue
        text, est, users, basis = built
        if any(_bad(x) for x in (est.expected, est.low, est.high, est.ceiling)):
            continue
        worth = est.ceiling if est.ceiling is not None else est.expected
        if worth is not None and worth <= 0:  # at most nothing: not an action
            continue
        derived.append(Action(rule.name, text, est.expected, users, basis, values.get(rule.link),
                              low_yuan=est.low, high_yuan=est.high, ceiling_yuan=est.ceiling))
    return rank_actions(own + derived)


def collect(chapters_dir: str | Path | None = None) -> Summary:
    """Read the glue of every executed chapter of a book.

    Parameters
    ----------
    chapters_dir : str, Path or None, default None
        The folder of executed chapter notebooks; None is the project's chapters/.

    Returns
    -------
    Summary
        The chapters, every glued value (a later chapter's key wins), the ranked actions and V.

    Raises
    ------
    FileNotFoundError
        When `chapters_dir` is not a folder.
    """
    folder = Path(chapters_dir) if chapters_dir else PROJECT_ROOT / "chapters"
    if not folder.is_dir():
        raise FileNotFoundError(f"chapters_dir {folder} is not a folder of executed chapter notebooks")
    chapters = [read_glue(p) for p in book_chapters(folder)]
    values: dict[str, Glued] = {}
    for chapter in chapters:
        values.update(chapter.values)
    return Summary(chapters=chapters, values=values, actions=derive_actions(values),
                   value_per_investor=value_per_investor(values))


# Headline numbers per chapter number (the stem's NN, so a renamed chapter keeps its headlines):
# (glue key, label, format). A format is a str.format spec or
# one of "yuan" / "count"; text values are shown as glued.
HEADLINES: dict[str, list[tuple[str, str, str]]] = {
    "00": [("dq_analysis_date", "分析日", ""),
                        ("dq_rows_read", "读入行数", ",.0f"),
                        ("dq_set_aside_share", "搁置比例", ".2%")],
    "01": [("prof_users", "注册用户", ",.0f"),
                          ("prof_investors", "投资人", ",.0f"),
                          ("prof_investor_rate", "投资转化率", ".1%"),
                          ("prof_aum_total", "在投资产", "yuan"),
                          ("prof_top20_share", "前 20% 投资人的资产占比", ".1%"),
                          ("prof_registrations_month_prev_change", "新注册人数环比（最近完整月）", "+.1%"),
                          ("prof_registrations_month_yoy_change", "新注册人数同比", "+.1%"),
                          ("prof_first_investors_month_prev_change", "新首投人数环比", "+.1%"),
                          ("prof_first_investors_month_yoy_change", "新首投人数同比", "+.1%")],
    "02": [("funnel_first_invest_rate", "漏斗第一步到首投（30 天）", ".1%"),
                  ("funnel_worst_step", "转化最低的一步", ""),
                  ("funnel_worst_rate", "该步 30 天转化率", ".1%"),
                  ("funnel_stalled_card", "注册未绑卡的滞留用户", ",.0f"),
                  ("funnel_stalled_invest", "绑卡未首投的滞留用户", ",.0f")],
    "03": [("attr_spend", "投放花费", "yuan"),
                               ("attr_cost_per_investor", "获客成本/首投 (元)", ",.0f"),
                               ("attr_budget_best", "下一元预算首选", ""),
                               ("attr_budget_best_ratio", "其每元回报", ".2f")],
    "04": [("rfm_investors", "参与分群的投资人", ",.0f"),
               ("rfm_iv_user_share", "重要价值客户占比", ".1%"),
               ("rfm_iv_amount_share", "重要价值客户的投资额占比", ".1%"),
               ("rfm_group_risk_share", "流失风险客占比", ".1%")],
    "05": [("ret_p1_rate", "次月留存率", ".1%"),
                               ("ret_second_rate", "累计复投率（不限时间）", ".1%"),
                               ("ret_at_risk_users", "沉睡可召回用户", ",.0f"),
                               ("ret_ltv_at_month", "注册用户 LTV (元)", ",.1f")],
    "06": [("review_campaign", "活动", ""),
                           ("review_uplift", "响应率增量", "pp"),
                           ("review_roi", "增量 ROI", ".0%"),
                           ("review_cost_per_incremental", "每个增量响应者成本 (元)", ",.1f")],
}


def read_book(chapters_dir: str | Path | None = None) -> Summary:
    """`collect` for a chapter that reads the others (the data-quality page): a folder without
    executed chapters (a chapter run alone with papermill) is the book's standard note, not an
    error.

    Parameters
    ----------
    chapters_dir : str, Path or None, default None
        As for `collect`.

    Returns
    -------
    Summary
        What `collect` read.

    Raises
    ------
    NotAvailable
        When the folder does not exist.
    """
    try:
        return collect(chapters_dir)
    except FileNotFoundError:
        raise NotAvailable("同一次运行中其他章节的执行结果",
                           f"{chapters_dir} 中没有执行过的章节（本章是单独运行的）",
                           "用 growthloop run 运行整本书，或用 papermill 把各章执行到同一个文件夹后运行 "
                           "growthloop book 该文件夹，这一节就会列出各章因数据不足而跳过的小节") from None


def summary_keys() -> tuple[str, ...]:
    """List every glue key the summary reads, in the order declared (no duplicates).

    HEADLINES, then VALUE_KEYS, CAMPAIGN_KEYS and the keys of DERIVED_ACTIONS.

    Returns
    -------
    tuple of str
        The keys (SUMMARY_KEYS).
    """
    keys = [k for rows in HEADLINES.values() for k, _label, _spec in rows]
    keys += [*VALUE_KEYS, *CAMPAIGN_KEYS]
    keys += [k for rule in DERIVED_ACTIONS for k in rule.keys]
    return tuple(dict.fromkeys(keys))


#: Every glue key the summary reads (see the module docstring, "Keys").
SUMMARY_KEYS: tuple[str, ...] = summary_keys()


def fmt(value: Any, spec: str) -> str:
    """Format a glued value for display: '—' when missing or NaN, text as is, numbers by `spec`.

    Parameters
    ----------
    value : Any
        The glued value.
    spec : str
        A str.format spec (".1%"), "yuan" (`units.yuan`), "count" (`units.count`), "pp"
        (percentage points, `points`), or "" for the value as it is.

    Returns
    -------
    str
        The shown text.

    Examples
    --------
    >>> fmt(0.1234, ".1%"), fmt(float("nan"), ".1%"), fmt(16000, "yuan")
    ('12.3%', '—', '1.6万元')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, str) or not spec:
        return str(value)
    if spec == "yuan":
        return yuan(float(value))
    if spec == "count":
        return count(float(value))
    if spec == "pp":
        return points(value)
    return format(value, spec)


def headlines(summary: Summary) -> list[dict[str, Any]]:
    """Pick the headline numbers present (HEADLINES), in chapter order.

    Parameters
    ----------
    summary : Summary
        A :func:`collect` result.

    Returns
    -------
    list of dict
        One per number glued: ``chapter`` (title), ``stem``, ``label``, ``value`` (shown text),
        ``href`` and ``section``.
    """
    rows = []
    for chapter in summary.chapters:
        for key, label, spec in HEADLINES.get(chapter.stem.split("_", 1)[0], []):
            glued = chapter.values.get(key)
            if glued is None:
                continue
            rows.append({"chapter": chapter.title, "stem": chapter.stem, "label": label,
                         "value": fmt(glued.value, spec), "href": glued.href,
                         "section": glued.section or chapter.title})
    return rows


def _a(text: str, href: str) -> str:
    return f"<a href='{html.escape(href, quote=True)}'>{html.escape(text)}</a>"


def campaign_html(summary: Summary) -> str:
    """Render the campaign block: verdict, rates, uplift with its interval, cost, revenue, ROI.

    Parameters
    ----------
    summary : Summary
        A :func:`collect` result.

    Returns
    -------
    str
        An HTML table linked to chapter 6, or a note that chapter 6 was not run.
    """
    c = summary.campaign
    if c is None:
        review = next((ch for ch in summary.chapters if ch.stem.startswith("06")), None)
        if review is not None:
            return (f"<p class='gl-summary'>活动复盘一章已运行，但本数据不能支持效果的估计（例如活动没有"
                    f"对照组，或没有活动表），所以这里不给结论，原因见{_a(review.title, review.stem + '.html')}"
                    "和数据质量页。</p>")
        return ("<p class='gl-summary'>本次运行没有活动复盘（第 6 章）："
                "在活动 YAML 的 chapters 中加入 06，才能在这里看到活动效果。</p>")
    link = summary.values["review_uplift"]
    rows = [
        ("活动", fmt(c.get("campaign"), "")),
        ("结论", fmt(c.get("verdict"), "")),
        ("实验组 / 对照组响应率", f"{fmt(c.get('rate_t'), '.1%')} / {fmt(c.get('rate_c'), '.1%')}"),
        ("响应率增量（95% 区间）", f"{points(c.get('uplift'))}（{points(c.get('ci_low'))} 至 "
                               f"{points(c.get('ci_high'))}，p = {fmt(c.get('p_value'), '.3f')}）"),
        ("增量响应人数（95% 区间）", f"{fmt(c.get('inc_responders'), ',.0f')} 人（"
                                f"{fmt(c.get('inc_low'), ',.0f')} 至 {fmt(c.get('inc_high'), ',.0f')}）"),
        ("增量投资额", fmt(c.get("inc_amount"), "yuan")),
        ("增量收入", fmt(c.get("inc_revenue"), "yuan")),
        ("活动成本", fmt(c.get("cost"), "yuan")),
        ("增量 ROI（按增量区间折算）", roi_range(c)),
        ("每个增量响应者的成本", fmt(c.get("cost_per_incremental"), "yuan")),
    ]
    caution = campaign_caution(c)
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    warn = f"<p class='gl-summary'><b>注意：</b>{html.escape(caution)}</p>" if caution else ""
    return (f"<table class='gl-table gl-summary'><tbody>{body}</tbody></table>{warn}"
            f"<p class='gl-caption'>详见 {_a(link.section or '活动复盘', link.href)}</p>")


def points(value: Any) -> str:
    """A difference of two rates in percentage points (百分点), signed, one decimal.

    Parameters
    ----------
    value : Any
        The difference as a fraction (0.0368 is 3.7 points); None or NaN for missing.

    Returns
    -------
    str
        "+3.7 个百分点", two decimals for a small non-zero one, "—" when missing.

    Examples
    --------
    >>> points(0.0367591), points(0.000235), points(-0.012), points(0), points(None)
    ('+3.7 个百分点', '+0.02 个百分点', '-1.2 个百分点', '+0.0 个百分点', '—')
    """
    number = _number(value)
    if number is None:
        return "—"
    # a small non-zero difference keeps a second decimal rather than reading as +0.0
    digits = 2 if 0 < abs(number) < 0.0005 else 1
    return f"{number * 100:+.{digits}f} 个百分点"


def roi_range(c: dict[str, Any]) -> str:
    """The incremental ROI with the range its uplift interval implies.

    The incremental revenue scales with the number of incremental responders, so the ROI at
    the interval's bounds is (revenue × bound / uplift − cost) / cost.

    Parameters
    ----------
    c : dict
        The campaign block's values (`Summary.campaign`): roi, cost, inc_revenue, uplift,
        ci_low, ci_high.

    Returns
    -------
    str
        "128%（-99% 至 278%）"; the ROI alone when the range cannot be computed, "—" without it.

    Examples
    --------
    >>> roi_range({"roi": 1.2776, "uplift": 0.03676, "ci_low": 0.000235, "ci_high": 0.06105,
    ...            "inc_revenue": 1444.1, "cost": 634.05})
    '128%（-99% 至 278%）'
    """
    roi, cost, revenue = (_number(c.get(k)) for k in ("roi", "cost", "inc_revenue"))
    uplift, low, high = (_number(c.get(k)) for k in ("uplift", "ci_low", "ci_high"))
    if roi is None:
        return "—"
    if not cost or revenue is None or not uplift or low is None or high is None:
        return f"{roi:.0%}"
    at = [(revenue * bound / uplift - cost) / cost for bound in (low, high)]
    return f"{roi:.0%}（{min(at):.0%} 至 {max(at):.0%}）"


def campaign_caution(c: dict[str, Any]) -> str:
    """The caution chapter 6 gives with its verdict, carried into the summary ("" when none).

    A positive result whose interval's lower bound is under half the uplift is significant but
    of uncertain size (chapter 6's action says the same); a result that is not significant is
    no evidence either way; a negative one says to stop.

    Parameters
    ----------
    c : dict
        The campaign block's values (`Summary.campaign`): verdict_code, uplift, ci_low.

    Returns
    -------
    str
        The caution, one or two sentences; "" when there is none.

    Examples
    --------
    >>> campaign_caution({"verdict_code": "positive", "uplift": 0.0368, "ci_low": 0.0002})[:14]
    '增量显著为正，但区间下限只有'
    >>> campaign_caution({"verdict_code": "positive", "uplift": 0.05, "ci_low": 0.04})
    ''
    """
    code = c.get("verdict_code")
    uplift, low = _number(c.get("uplift")), _number(c.get("ci_low"))
    if code == "positive" and uplift is not None and low is not None and size_uncertain(uplift, low):
        return (f"增量显著为正，但区间下限只有 {points(low)}：真实增量可能很小，增量收入和 ROI 也可能接近 0 或为负。"
                "先不要据此加大预算；下一轮保持对照组并扩大名单，等区间收窄再定。")
    if code == "negative":
        return "实验组反而低于对照组：先暂停这个活动，查明原因再小范围重测。"
    if code is not None and code != "positive":
        return "现有样本不能证明活动有增量，增量收入和 ROI 只是点估计：先不要据此加减预算。"
    return ""


def _value_html(a: Action) -> str:
    """An action's value as the page words it: expected revenue, its range, the ceiling."""
    if a.expected_yuan is None:
        return f"收入{html.escape(a.value_text)}（上限）" if a.ceiling_yuan is not None else "收入无法估算"
    out = f"期望收入约 {html.escape(a.value_text)}"
    if a.range_text:
        out += f"（区间 {html.escape(a.range_text)}）"
    return out


def actions_html(summary: Summary, n: int = TOP_ACTIONS) -> str:
    """Render the n actions worth most, each linked to the section behind it.

    Parameters
    ----------
    summary : Summary
        A :func:`collect` result.
    n : int, default TOP_ACTIONS (3)
        How many actions.

    Returns
    -------
    str
        An HTML ordered list and a note on how the values were estimated, or a note that no
        chapter gave actions.
    """
    actions = summary.actions[:n]
    if not actions:
        return "<p class='gl-summary'>本次运行的章节没有给出可排序的行动。</p>"
    items = []
    for a in actions:
        where = _a(a.link.section or a.link.chapter, a.link.href) if a.link else ""
        users = f"，涉及 {html.escape(cell_label(a.users))} 人" if a.users is not None else ""
        items.append(f"<li><b>{html.escape(a.text)}</b><br>{_value_html(a)}{users}"
                     f" · 估算：{html.escape(a.basis)} · 见 {where}</li>")
    vpi = summary.value_per_investor
    rates = campaign_rates({k: g.value for k, g in summary.values.items()}, vpi)
    notes = []
    if vpi is None:  # without V a measured uplift values nothing either
        notes.append("缺少每名投资人的收入 V（需要第 5 章的 LTV 和第 1 章的注册、投资人数），"
                     "按人数的行动无法折算成收入，排在后面")
    else:
        notes.append(f"V = 每名投资人的收入，取第 5 章 LTV × 注册人数 / 投资人数 ≈ {html.escape(yuan(vpi))}")
        if rates.uplift is not None:
            notes.append(f"触达类行动的期望收入按第 6 章测得的响应增量 {html.escape(points(rates.uplift))}"
                         f"（{html.escape(points(rates.uplift_low))} 至 {html.escape(points(rates.uplift_high))}）"
                         "估算，假设同样的触达对这些人有同样的效果")
        else:
            notes.append("本次没有测得活动的响应增量，触达类行动只给出上限（每人都转化），排在有期望值的行动之后")
    return f"<ol class='gl-summary'>{''.join(items)}</ol><p class='gl-caption'>{'；'.join(notes)}。</p>"


def headlines_html(summary: Summary) -> str:
    """Render the headline numbers of every chapter as one table, each number linked to its section.

    Parameters
    ----------
    summary : Summary
        A :func:`collect` result.

    Returns
    -------
    str
        An HTML table, or a note that no executed chapter was found.
    """
    rows = headlines(summary)
    if not rows:
        return "<p class='gl-summary'>没有可汇总的章节（没有找到执行过的章节）。</p>"
    body = []
    last = None
    for r in rows:
        chapter = html.escape(r["chapter"]) if r["chapter"] != last else ""
        last = r["chapter"]
        body.append(f"<tr><td>{chapter}</td><td>{html.escape(r['label'])}</td>"
                    f"<td>{_a(r['value'], r['href'])}</td></tr>")
    return ("<table class='gl-table gl-summary'><thead><tr><th>章节</th><th>指标</th>"
            f"<th>数值</th></tr></thead><tbody>{''.join(body)}</tbody></table>")


def all_actions_html(summary: Summary) -> str:
    """Render every ranked action with its expected value, range and ceiling.

    Parameters
    ----------
    summary : Summary
        A :func:`collect` result.

    Returns
    -------
    str
        An HTML table; "" when there is no action.
    """
    if not summary.actions:
        return ""

    def ceiling(a: Action) -> str:
        return yuan(a.ceiling_yuan) if a.ceiling_yuan is not None else "—"

    body = "".join(
        f"<tr><td>{i}</td><td>{html.escape(a.text)}</td>"
        f"<td>{html.escape(a.value_text if a.expected_yuan is not None else '—')}</td>"
        f"<td>{html.escape(a.range_text or '—')}</td><td>{html.escape(ceiling(a))}</td>"
        f"<td>{'—' if a.users is None else html.escape(cell_label(a.users))}</td><td>{html.escape(a.basis)}</td>"
        f"<td>{_a(a.link.section or a.link.chapter, a.link.href) if a.link else ''}</td></tr>"
        for i, a in enumerate(summary.actions, 1))
    return ("<table class='gl-table gl-summary'><thead><tr><th>#</th><th>行动</th>"
            "<th>期望收入</th><th>区间</th><th>上限</th><th>人数</th><th>估算</th><th>出处</th>"
            f"</tr></thead><tbody>{body}</tbody></table>")


__all__ = ["CAMPAIGN_KEYS", "DERIVED_ACTIONS", "Action", "ActionRule", "ChapterGlue", "Declared",
           "Estimate", "Glued", "HEADLINES", "Rates", "SUMMARY_KEYS", "SUMMARY_STEM", "Summary", "VALUE_KEYS",
           "actions_html", "all_actions_html", "book_chapters", "campaign_html", "campaign_rates", "collect",
           "derive_actions", "fmt", "headlines", "headlines_html", "rank_actions", "read_book", "read_glue",
           "value_per_investor"]


def skipped_sections(summary: Summary, exclude: Sequence[str] = ()) -> pd.DataFrame:
    """The sections of the book's chapters that the dataset could not support, with why.

    Parameters
    ----------
    summary : Summary
        What `collect` read from the executed chapters.
    exclude : sequence of str, default ()
        Chapter stems to leave out (the data-quality chapter, which lists the others).

    Returns
    -------
    pandas.DataFrame
        chapter (its title), section, need, missing, fix: one row per section that showed the
        standard note instead of numbers, in book order.
    """
    rows = []
    for chapter in summary.chapters:
        if chapter.stem in exclude:
            continue
        for key, glued in chapter.values.items():
            if not key.startswith(SKIP_PREFIX):
                continue
            title, need, missing, fix = (str(glued.value).split("\t") + ["", "", "", ""])[:4]
            rows.append({"chapter": chapter.title, "section": title, "need": need,
                         "missing": missing, "fix": fix})
    return pd.DataFrame(rows, columns=["chapter", "section", "need", "missing", "fix"])


def skipped_finding(table: pd.DataFrame, chapters_read: int) -> tuple[str, str]:
    """The finding and action of the list of skipped sections (`skipped_sections`).

    Parameters
    ----------
    table : pandas.DataFrame
        `skipped_sections`.
    chapters_read : int
        How many executed chapters were read (0: the chapters have not been run yet).

    Returns
    -------
    tuple of str
        (finding, action).
    """
    if chapters_read == 0:
        return ("其他章节还没有执行，这里暂时无法列出哪些小节因数据不足而未生成。",
                "用 growthloop run 运行整本书后再看本节。")
    if table.empty:
        return (f"已执行的 {chapters_read} 章里，每一节都有数据支撑，没有小节因数据不足而跳过。", "无需处理。")
    chapters = table.chapter.nunique()
    return (f"有 {len(table)} 个小节（分布在 {chapters} 章）因数据不足没有生成，每节在原位置写明了缺什么；"
            "这些小节的数字不会出现在摘要里。",
            "按表中“补充方法”一列补齐数据（映射事件名、补充可选表或列），然后重新运行。")


def chapters_read(summary: Summary, exclude: Sequence[str] = ()) -> int:
    """Count the executed chapters `collect` read.

    Parameters
    ----------
    summary : Summary
        What `collect` read.
    exclude : sequence of str, default ()
        Chapter stems not to count (the chapter asking).

    Returns
    -------
    int
    """
    return len([c for c in summary.chapters if c.stem not in exclude])


def execution_order(paths: Sequence[T]) -> list[T]:
    """The order to execute chapters in: every chapter, then the three that read the others'
    executed notebooks (READER_STEMS): the next campaign (the summary's first action), the
    data-quality chapter (every chapter's skipped sections, the next campaign's included) and
    the summary. The book's order is the toc's, whatever the order of execution.

    Parameters
    ----------
    paths : sequence of Path
        Chapter files (notebooks or sources) named NN_<stage>.

    Returns
    -------
    list of Path
        The same files, readers last.
    """
    return ([p for p in paths if Path(p).stem not in READER_STEMS]
            + [p for r in READER_STEMS for p in paths if Path(p).stem == r])


def skipped_html(summary: Summary) -> str:
    """Render one line saying how many sections the data could not support, linked to the
    data-quality page that lists them; empty when every section was shown.

    Parameters
    ----------
    summary : Summary
        A :func:`collect` result.

    Returns
    -------
    str
        HTML (a paragraph), or "".
    """
    table = skipped_sections(summary, exclude=[DATA_QUALITY_STEM])
    if table.empty:
        return ""
    where = _a("数据质量页", f"{DATA_QUALITY_STEM}.html")
    return (f"<p class='gl-summary'>本数据不能支持 {len(table)} 个小节（分布在 {table.chapter.nunique()} 章），"
            f"它们在原位置写明了缺什么，数字不进入本摘要；清单和补充方法见{where}。</p>")
