"""The site's words in English and Chinese: page text, metric names and explanations.

Templates write English and call ``t``; a Chinese page looks each string up here. A
metric this module does not know keeps its key as its name and its spec's (English)
description.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

ZH: Mapping[str, str] = {
    # navigation, headings
    "Pages": "页面",
    "Overview": "总览",
    "Gallery": "样例",
    "Tasks": "任务",
    "Task": "任务",
    "Model": "模型",
    "Rank": "名次",
    "Average rank": "平均名次",
    "Parameters": "参数量",
    "Released": "发布日期",
    "Metrics": "指标",
    "Notes": "备注",
    "Protocol": "评测协议",
    "Environment": "运行环境",
    "Run configuration": "运行配置",
    "Timings (seconds)": "耗时（秒）",
    "Task and dataset": "任务与数据集",
    "Model arguments": "模型参数",
    "Model protocol": "模型协议",
    "Run details": "运行详情",
    "Published references": "已发表的参考结果",
    "About the metrics and intervals": "关于指标与置信区间",
    "Built by muge-eval. Intervals: 95% percentile bootstrap, {resamples} resamples, seed {seed}.": (
        "由 muge-eval 生成。区间：95% 百分位自助法（bootstrap），重采样 {resamples} 次，随机种子 {seed}。"
    ),
    # overview and task pages
    "One row per model: each task's main metric (95% bootstrap interval in brackets, rank among that task's "
    "models in parentheses), and the model's average rank.": (
        "每行一个模型：各任务的主指标（方括号内为 95% 自助法置信区间，圆括号内为该任务中的名次），以及模型的平均名次。"
    ),
    "The average rank counts only the tasks a model was evaluated on; models are ordered first by how many of "
    "the {n} tasks they were evaluated on, so a model evaluated on fewer tasks never sits above one evaluated on "
    "more.": (
        "平均名次只计算模型实际参评的任务；排序先看模型参评了 {n} 个任务中的几个，"
        "因此参评任务较少的模型不会排在参评任务较多的模型之上。"
    ),
    "marks a lead over the next model on that task that a paired bootstrap does not find significant.": (
        "表示该模型在此任务上对下一名的领先经配对自助法检验并不显著。"
    ),
    "Rows marked published are numbers from papers: shown for comparison, never ranked.": (
        "标为“已发表”的行是论文中报告的数字，仅供对比，不参与排名。"
    ),
    "Click a column header to sort.": "点击列标题可排序。",
    "Download this table:": "下载此表：",
    "Download:": "下载：",
    "tasks evaluated on, of {n}": "参评任务数（共 {n} 个）",
    "split {split}, ranked by {metric}, {n} submitted model(s)": "数据划分 {split}，按 {metric} 排名，{n} 个提交的模型",
    "{n} published reference(s)": "{n} 条已发表的参考结果",
    "published, not ranked": "已发表结果，不参与排名",
    "split": "数据划分",
    "ranked by": "排名依据",
    "Accepted dataset fingerprints:": "接受的数据集指纹：",
    "95% bootstrap interval in brackets.": "方括号内为 95% 自助法置信区间。",
    "after a value: that model's lead over the next submitted model on this metric is not significant "
    "(paired bootstrap, 95%).": "跟在数值后：该模型在此指标上对下一个提交模型的领先不显著（配对自助法，95%）。",
    "lead over the next submitted model is not significant (paired bootstrap, 95%)": (
        "对下一个提交模型的领先不显著（配对自助法，95%）"
    ),
    "↑ higher is better, ↓ lower is better.": "↑ 越高越好，↓ 越低越好。",
    "No results yet.": "暂无结果。",
    "no interval": "无置信区间",
    "No interval": "无置信区间",
    "for some models": "（部分模型）",
    "Interval: bootstrap of the": "区间：对以下量做自助法重采样：",
    "higher is better": "越高越好",
    "lower is better": "越低越好",
    "unit": "单位",
    "({direction}, unit: {unit}).": "（{direction}，单位：{unit}）。",
    "({direction}).": "（{direction}）。",
    "source": "出处",
    "run": "运行",
    "gallery": "样例",
    "{metric}: every model with its 95% interval": "{metric}：各模型及其 95% 置信区间",
    "{metric} against parameters": "{metric} 与参数量",
    "{metric} against release date": "{metric} 与发布日期",
    "parameters (log scale)": "参数量（对数刻度）",
    "release date (year)": "发布日期（年）",
    "No model on this task states its number of parameters (model card).": "此任务中没有模型在模型卡片中注明参数量。",
    "No model on this task states its release date (model card).": "此任务中没有模型在模型卡片中注明发布日期。",
    "published reference": "已发表的参考结果",
    # filters and model cards
    "Weights": "权重",
    "Setting": "设定",
    "Organisation": "机构",
    "any": "全部",
    "open": "开放",
    "closed": "不开放",
    "not stated": "未注明",
    "open weights": "开放权重",
    "closed weights": "闭源权重",
    "zero-shot": "零样本",
    "fine-tuned": "微调",
    "published": "已发表",
    "published references": "已发表的参考结果",
    "{shown} of {total} rows shown": "显示 {shown} / {total} 行",
    "name": "名称",
    "display name": "显示名称",
    "organisation": "机构",
    "parameters": "参数量",
    "weights": "权重",
    "licence": "许可证",
    "release date": "发布日期",
    "setting": "设定",
    "adapter": "适配器",
    "fingerprint": "指纹",
    "url (not a link: not http(s))": "网址（不是 http(s)，不作链接）",
    "none recorded": "无记录",
    "metric": "指标",
    "value": "数值",
    "direction": "方向",
    "main": "主指标",
    "results JSON": "结果 JSON",
    "per-sample scores (JSONL)": "逐样本得分（JSONL）",
    "Gallery: what the model did on some items": "样例：模型在部分样本上的实际输出",
    # gallery
    "This run was submitted without per-sample records, so there is nothing to show.": (
        "此运行提交时没有逐样本记录，因此无可展示内容。"
    ),
    "{seeded} item(s) drawn with the seed {seed} from the task's items (the same items for every model of "
    "this task)": "用随机种子 {seed} 从任务样本中抽取 {seeded} 个（此任务的所有模型展示相同的样本）",
    ", and the run's {n} worst and {n} best by per-item {metric}": (
        "；以及按逐样本 {metric} 选出的该运行最差的 {n} 个和最好的 {n} 个"
    ),
    "The site was built without this task's data, so its images are not shown (leaderboard build --data-dir).": (
        "生成网站时没有提供此任务的数据，因此不显示图片（leaderboard build --data-dir）。"
    ),
    "{n} picture(s) could not be shown (not in the data, not stored with the run, or over the site's image "
    "budget).": "{n} 张图片无法显示（数据中没有、提交时未保存，或超出网站的图片容量上限）。",
    "no image": "无图片",
    "relevant": "相关",
    "seeded": "随机抽取",
    "worst": "最差",
    "best": "最好",
    "query": "查询",
    "top 5": "前 5 个结果",
    "caption": "生成的描述",
    "references": "参考描述",
    "prompt": "提示词",
    "image": "图片",
    "result": "结果",
    "query image": "查询图片",
    "relevant, not in the top 5": "相关图片（未进入前 5）",
    "generated": "生成图",
    "real image": "真实图片",
    "relevant items": "相关项数",
    "first relevant rank": "首个相关结果的名次",
    # units
    "percent": "百分比",
    "score": "分数",
    "score_x100": "分数 ×100",
    "count": "计数",
    "seconds": "秒",
    "fraction": "比例",
    "ratio": "比值",
}

# metric key -> (English name, Chinese name, Chinese explanation). The names head table
# columns, so they stay short; the explanation says what the abbreviation means.
METRICS: Mapping[str, tuple[str, str, str]] = {
    "r1": ("R@1", "R@1", "前 1 召回率：排在第 1 位的结果是相关项的查询所占比例（%）。"),
    "r5": ("R@5", "R@5", "前 5 召回率：前 5 个结果中至少有一个相关项的查询所占比例（%）。"),
    "r10": ("R@10", "R@10", "前 10 召回率：前 10 个结果中至少有一个相关项的查询所占比例（%）。"),
    "mean_recall": ("Mean recall", "平均召回率", "(R@1 + R@5 + R@10) / 3，MUGE 检索任务的主指标（%）。"),
    "map10": ("mAP@10", "mAP@10", "平均精度均值：每个查询前 10 个结果的平均精度，再对查询取平均（%）。"),
    "ndcg10": ("nDCG@10", "nDCG@10", "归一化折损累计增益：二值相关性下前 10 个结果的 nDCG（%）。"),
    "bleu1": ("BLEU-1", "BLEU-1", "一元语法精确率乘以长度惩罚，在整个语料上统计（语料级）。"),
    "bleu2": ("BLEU-2", "BLEU-2", "一至二元语法精确率的几何平均乘以长度惩罚（语料级）。"),
    "bleu3": ("BLEU-3", "BLEU-3", "一至三元语法精确率的几何平均乘以长度惩罚（语料级）。"),
    "bleu4": ("BLEU-4", "BLEU-4", "一至四元语法精确率的几何平均乘以长度惩罚（语料级）。"),
    "rouge_l": ("ROUGE-L", "ROUGE-L", "基于最长公共子序列的 F 值，逐图计算后取平均。"),
    "cider_d": (
        "CIDEr-D",
        "CIDEr-D",
        "以 TF-IDF 加权的 n 元语法相似度，文档频率来自全部参考描述（语料级），MUGE 描述任务的主指标。",
    ),
    "meteor": ("METEOR", "METEOR", "考虑词形与同义词匹配的对齐 F 值。"),
    "fid": ("FID", "FID", "真实图与生成图的 Inception 特征分布之间的 Fréchet 距离，越低越好（集合级）。"),
    "is_mean": ("IS", "IS", "生成图在 Inception 网络上的类别分布清晰度与多样性，多个分组的均值。"),
    "is_std": ("IS std", "IS 标准差", "Inception 分数在各分组间的标准差。"),
    "clip_score": (
        "CLIP score",
        "CLIP 分数",
        "评审模型给出的描述与生成图嵌入的余弦相似度 ×100，负值计为 0，再取平均。",
    ),
    "r_precision": ("R-precision", "R-precision", "生成图与自身描述的相似度高于全部干扰描述的比例（%）。"),
    "kid": ("KID", "KID", "真实图与生成图特征之间的核 Inception 距离，越低越好（集合级）。"),
    "clean_fid": ("clean-FID", "clean-FID", "按 clean-fid 的缩放方式计算的 FID，越低越好（集合级）。"),
    "fd_dinov2": ("FD-DINOv2", "FD-DINOv2", "在 DINOv2 特征上计算的 Fréchet 距离，越低越好（集合级）。"),
    "cmmd": ("CMMD", "CMMD", "在 CLIP 特征上计算的最大均值差异，越低越好（集合级）。"),
    "top1": ("Top-1", "Top-1", "Top-1 准确率：首个预测标签正确的图片所占比例（%）。"),
    "top5": ("Top-5", "Top-5", "Top-5 准确率：前 5 个预测标签中包含正确标签的图片所占比例（%）。"),
}
I2T_PREFIX = "i2t_"

# Why a cell has no interval (muge_eval.metrics.persample), in Chinese.
REASONS: Mapping[str, str] = {
    "the results file does not say how this metric aggregates": "结果文件没有说明该指标如何汇总",
    "the metric's description in the results file is malformed": "结果文件中该指标的说明格式有误",
    "the results were submitted without per-sample scores": "提交结果时没有附带逐样本得分",
    "the stored samples do not reproduce the reported value": "保存的逐样本记录不能复现报告的数值",
}
AGGREGATION_REASONS = {
    "corpus": "语料级指标：由整个数据集的统计量计算，没有逐样本均值",
    "set": "集合级指标：描述整个图片集合（如两个特征分布的距离），没有逐样本数值",
}


def translator(lang: str) -> Callable[..., str]:
    """``t(text, **values)``: ``text`` in ``lang``, formatted only when values are given
    (so text from a results file is never used as a format string)."""

    def t(text: str, **values: Any) -> str:
        translated = ZH.get(text, text) if lang == "zh" else text
        return translated.format(**values) if values else translated

    return t


def metric_label(key: str, lang: str) -> str:
    """A metric's display name (``i2t_`` metrics are the image-to-text direction)."""
    base = key.removeprefix(I2T_PREFIX)
    known = METRICS.get(base)
    if known is None:
        return key
    name = known[1] if lang == "zh" else known[0]
    if key.startswith(I2T_PREFIX):
        return f"图搜文 {name}" if lang == "zh" else f"{name} (image to text)"
    return name


def metric_text(key: str, description: str, lang: str) -> str:
    """What a metric means: the Chinese explanation, or the spec's own (English) text."""
    known = METRICS.get(key.removeprefix(I2T_PREFIX))
    if lang == "zh" and known is not None:
        prefix = "图搜文方向：" if key.startswith(I2T_PREFIX) else ""
        return prefix + known[2]
    return description or ("无说明" if lang == "zh" else "no description")


def reason_text(reason: str, lang: str, aggregation: str = "") -> str:
    """Why there is no interval, in ``lang`` (an unknown reason stays as written)."""
    if lang != "zh":
        return reason
    if reason in REASONS:
        return REASONS[reason]
    if aggregation in AGGREGATION_REASONS:
        return AGGREGATION_REASONS[aggregation]
    if reason.startswith("the samples do not carry "):
        return "逐样本记录中缺少字段 " + reason.removeprefix("the samples do not carry ").removesuffix(
            " for every item"
        )
    return reason
