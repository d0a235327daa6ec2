"""The document corpus: every project's documents with sensitivity labels, markings and text.

Text is generated from the project's topic vocabulary (English or Chinese), so documents of
different projects share little beyond common words, and every document carries the marking of
its sensitivity in its header and footer (:data:`~molehunt.simulate.vocabulary.MARKINGS`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from molehunt.simulate.organisation import Organisation
from molehunt.simulate.vocabulary import COMMON_WORDS, COMMON_WORDS_ZH, MARKINGS, TOPICS

_KINDS = ("Specification", "Test Report", "Design Review", "Process Recipe", "Roadmap",
          "Meeting Minutes", "Analysis", "Requirements", "Cost Model", "Failure Analysis")
_KINDS_ZH = ("规格书", "测试报告", "设计评审", "工艺配方", "路线图", "会议纪要", "分析报告", "需求",
             "成本模型", "失效分析")
_EXTENSIONS = (".docx", ".docx", ".pdf", ".xlsx", ".pptx")
_SENSITIVITY_WEIGHTS = {True: (5, 30, 30, 22, 13), False: (15, 50, 28, 7, 0)}


@dataclass(frozen=True)
class Document:
    """One document of the company."""

    doc_id: str
    path: str
    title: str
    project: str
    owner: int  # person index
    team: str
    department: str
    business_unit: str
    sensitivity: int
    marking: str
    language: str
    created: int  # day index (negative: before the simulated period)
    text: str
    size: int  # bytes of the file on disk


def sentence(rng: random.Random, topic_words: list[str], language: str) -> str:
    """One sentence mostly of the topic's words.

    >>> sentence(random.Random(1), ["cathode", "nickel"], "en").endswith(".")
    True
    """
    if language == "zh":
        words = [rng.choice(topic_words) if rng.random() < 0.65 else rng.choice(COMMON_WORDS_ZH)
                 for _ in range(rng.randrange(8, 18))]
        cut = len(words) // 2
        return "".join(words[:cut]) + "，" + "".join(words[cut:]) + "。"
    words = [rng.choice(topic_words) if rng.random() < 0.6 else rng.choice(COMMON_WORDS)
             for _ in range(rng.randrange(8, 18))]
    if rng.random() < 0.4:
        words.insert(rng.randrange(len(words)), f"{rng.uniform(0.1, 999):.{rng.randrange(0, 3)}f}")
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def document_text(rng: random.Random, title: str, sensitivity: int, topic: str,
                  language: str, marking_owner: str = "") -> str:
    """A whole document: marking, title, paragraphs, marking again."""
    english, chinese = TOPICS[topic]
    words = (chinese if language == "zh" else english).split()
    marking = MARKINGS[sensitivity][1 if language == "zh" else 0]
    if marking_owner:
        marking = f"{marking_owner} {marking}"
    paragraphs = []
    for _ in range(rng.randrange(4, 12)):
        joiner = "" if language == "zh" else " "
        paragraphs.append(joiner.join(sentence(rng, words, language)
                                      for _ in range(rng.randrange(2, 7))))
    return f"{marking}\n{title}\n\n" + "\n\n".join(paragraphs) + f"\n\n{marking}\n"


def build_corpus(org: Organisation, seed: int, per_member: float = 3.0) -> list[Document]:
    """Documents of every project (about ``per_member`` per project member) and department.

    Creation days spread from before the period to its end, so the corpus grows over time.
    """
    rng = random.Random(f"corpus/{seed}")
    documents: list[Document] = []
    members: dict[str, list[int]] = {}
    for person in org.people:
        for project_name in person.projects:
            members.setdefault(project_name, []).append(person.index)
    for name, project in sorted(org.projects.items()):
        owners = members.get(name) or [p.index for p in org.people
                                       if p.department == project.department][:1]
        if not owners:
            continue
        weights = _SENSITIVITY_WEIGHTS[project.crown_jewel]
        for number in range(max(20, round(len(owners) * per_member))):
            owner = org.people[rng.choice(owners)]
            sensitivity = rng.choices(range(5), weights)[0]
            kinds = _KINDS_ZH if project.language == "zh" else _KINDS
            kind = rng.choice(kinds)
            title = f"{name} {kind} {number + 1}"
            text = document_text(rng, title, sensitivity, project.topic, project.language)
            slug = re.sub(r"[^A-Za-z0-9]+", "_", _KINDS[kinds.index(kind)]).strip("_").lower()
            extension = rng.choice(_EXTENSIONS)
            path = (f"\\\\fs01\\projects\\{name}\\{slug}_{number + 1:04d}{extension}")
            documents.append(Document(
                doc_id=f"D{len(documents) + 1:06d}", path=path, title=title, project=name,
                owner=owner.index, team=owner.team, department=project.department,
                business_unit=owner.business_unit, sensitivity=sensitivity,
                marking=text.split("\n", 1)[0], language=project.language,
                created=rng.randrange(-700, max(1, org.days - 10)) if rng.random() < 0.35
                else -rng.randrange(1, 700),
                text=text, size=len(text.encode()) * rng.randrange(8, 40),
            ))
    return documents
