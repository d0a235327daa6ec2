"""The analyst store's tables (SQLAlchemy 2 declarative models).

Real user ids are stored (they are needed to join the workspace's logs) but never leave the
store towards an analyst: every page and API answer shows the keyed pseudonym instead
(:mod:`molehunt.cases.pseudonyms`). Times are naive UTC.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: The roles, in the order the settings page lists them.
ROLES = ("admin", "analyst", "investigator", "auditor", "privacy_officer")
#: Console workflow states of an alert.
ALERT_STATES = ("new", "assigned", "confirmed", "dismissed")
#: States of a case.
CASE_STATES = ("open", "investigating", "closed_confirmed", "closed_unfounded")
#: Roles whose accounts can reveal, approve reveals or run accounts: creating one, giving a
#: role to one or bringing one back needs a second person (see ApprovalRequest).
PRIVILEGED_ROLES = ("admin", "investigator", "privacy_officer")


def utcnow() -> dt.datetime:
    """The current time as naive UTC, the store's convention."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Base of every table of the analyst store."""


class Account(Base):
    """A person (or machine) who may use the console."""

    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    #: the name as sign-in compares it (NFKC, case-folded; see
    #: :func:`molehunt.cases.accounts.canonical_username`); ``None`` only for an account made
    #: before migration 0002 whose key an older account already had (it signs in by its
    #: exact name)
    username_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("uq_accounts_username_key", "username_key", unique=True),)


class ApiToken(Base):
    """A bearer token for machines; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    #: refused from this time on (``None`` only before migration 0002 ran)
    expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    #: space-separated: ``read`` (GET, HEAD) and ``write`` (every change the role may make)
    scopes: Mapped[str] = mapped_column(String(64), default="read write",
                                        server_default="read write")


class LoginSession(Base):
    """A browser session; only the SHA-256 of the cookie value is stored."""

    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class LoginFailure(Base):
    """One failed login, by user name and by client address (for rate limiting)."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Alert(Base):
    """An alert imported from ``results/alerts.parquet`` plus its console workflow state."""

    __tablename__ = "alerts"
    alert_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    #: what the console shows and routes by: keyed hash of ``alert_id``, because the
    #: detection core's ids may embed a user id
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[str] = mapped_column(String(128), index=True)
    opened_day: Mapped[dt.date] = mapped_column(Date)
    last_day: Mapped[dt.date] = mapped_column(Date)
    peak_risk: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[str] = mapped_column(Text)      # JSON list of reason objects
    detectors: Mapped[str] = mapped_column(Text)    # JSON list of detector names
    detection_status: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="new")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (Index("alerts_by_state_day", "state", "opened_day"),)


class AlertDecision(Base):
    """An analyst's decision on an alert: the feedback that tunes detectors and allowlists."""

    __tablename__ = "alert_decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.alert_id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    action: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    detectors: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Case(Base):
    """An investigation about one person, opened from one or more alerts."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    subject_user_id: Mapped[str] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(32), default="open")
    created_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class CaseNote(Base):
    """A note written on a case."""

    __tablename__ = "case_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class CaseEvidence(Base):
    """An event attached to a case as evidence (by event id and day)."""

    __tablename__ = "case_evidence"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(256))
    day: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    added_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    added_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class RevealRequest(Base):
    """A request to see who a pseudonym is: reason, and the approval when one is required."""

    __tablename__ = "reveal_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    user_id: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # pending, approved, denied
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    #: the case the reveal serves (from migration 0003; a plain column, no foreign key, so
    #: that SQLite adds it without rebuilding the table)
    case_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class AllowlistEntry(Base):
    """A value the detectors should not alert on (a domain, a person, a device, ...)."""

    __tablename__ = "allowlist"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(512))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ApprovalRequest(Base):
    """A change one person asked for that takes effect only once a second person approves it.

    Separation of duties (issue 19, item 4): allowlists beyond an alert's own evidence,
    switching the reveal approval off and giving someone a privileged role wait here.
    ``change`` is what approval applies, exactly (JSON); ``summary`` is the sentence the
    approver reads. Requests expire at ``expires_at``.
    """

    __tablename__ = "approval_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: ``allowlist.add``, ``setting.reveal_approval``, ``account.create``, ``account.update``
    action: Mapped[str] = mapped_column(String(32))
    change: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True)
    #: the alert (its public id) the request came from, if any
    alert_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    requester_client: Mapped[str] = mapped_column(String(64))
    #: pending, approved, denied (an expired request stays pending past ``expires_at``)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), nullable=True)
    approver_client: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (Index("approval_requests_by_status", "status", "id"),)


class DetectorWeight(Base):
    """An analyst-set weight of a detector in the risk score (1 = as shipped)."""

    __tablename__ = "detector_weights"
    detector: Mapped[str] = mapped_column(String(128), primary_key=True)
    weight: Mapped[float] = mapped_column(Float)
    updated_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ConsoleSetting(Base):
    """A console setting (e.g. whether a reveal needs a second approver), as JSON text."""

    __tablename__ = "console_settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class AuditEntry(Base):
    """One line of the append-only, hash-chained audit log (see :mod:`molehunt.cases.audit`)."""

    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(256))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
