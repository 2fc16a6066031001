"""The schema, versioned: one list of migrations for both databases.

Each migration is a tuple of statements applied in one transaction; the schema version is the
number of migrations applied (SQLite: ``PRAGMA user_version``; PostgreSQL: the table
``schema_version``, written under an advisory lock so that of several replicas starting at once
exactly one migrates). The statements are written in the SQL both accept; the few type names
that differ (``INTEGER PRIMARY KEY`` row ids, ``REAL``) are translated for PostgreSQL by
:func:`bot.store.backend.postgres_ddl`. Never edit a released migration: append a new one.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[str, ...]] = [
    (  # 1: open-day sign-up
        """CREATE TABLE bookings (
            id INTEGER PRIMARY KEY,
            code TEXT NOT NULL UNIQUE,
            session_id TEXT NOT NULL,
            user_key TEXT NOT NULL,
            name TEXT NOT NULL,
            phone TEXT NOT NULL,
            lang TEXT NOT NULL DEFAULT 'zh',
            status TEXT NOT NULL CHECK (status IN ('booked', 'waiting', 'cancelled')),
            institution TEXT NOT NULL DEFAULT '',
            session_start TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            booked_at TEXT,
            reminded_at TEXT
        )""",
        # One active booking (booked or waiting) per person per session, whatever the races.
        """CREATE UNIQUE INDEX bookings_one_per_person ON bookings (session_id, user_key)
            WHERE status IN ('booked', 'waiting')""",
        "CREATE INDEX bookings_by_session ON bookings (session_id, status, id)",
        "CREATE INDEX bookings_by_user ON bookings (user_key)",
        """CREATE TABLE dialogues (
            user_key TEXT PRIMARY KEY,
            step TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}',
            lang TEXT NOT NULL DEFAULT 'zh',
            updated_at TEXT NOT NULL
        )""",
        # Messages for a user other than the one being answered (waiting-list promotion,
        # reminders, "new sessions"): channels deliver them and mark them sent.
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            user_key TEXT NOT NULL,
            kind TEXT NOT NULL,
            lang TEXT NOT NULL DEFAULT 'zh',
            text TEXT NOT NULL,
            actions TEXT NOT NULL DEFAULT '[]',
            dedupe TEXT UNIQUE,
            created_at TEXT NOT NULL,
            not_before TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            sent_at TEXT,
            failed_at TEXT
        )""",
        "CREATE INDEX outbox_pending ON outbox (sent_at, failed_at, not_before)",
        "CREATE INDEX outbox_by_user ON outbox (user_key)",
        """CREATE TABLE notify_requests (
            user_key TEXT PRIMARY KEY,
            lang TEXT NOT NULL DEFAULT 'zh',
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE admin_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        )""",
        # Per-user preferences a channel wants to keep across restarts (the language, say).
        """CREATE TABLE user_prefs (
            user_key TEXT PRIMARY KEY,
            lang TEXT,
            updated_at TEXT NOT NULL
        )""",
    ),
    (  # 2: what citizens asked and how it went (bot/insights.py), with no user identity
        # One row per (day, channel, outcome, entry): counts and answer latency for the stats.
        """CREATE TABLE question_counts (
            day TEXT NOT NULL,
            channel TEXT NOT NULL,
            status TEXT NOT NULL,
            kind TEXT NOT NULL,
            entry_id TEXT NOT NULL DEFAULT '',
            count INTEGER NOT NULL DEFAULT 0,
            latency_ms_sum REAL NOT NULL DEFAULT 0,
            latency_ms_max REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (day, channel, status, kind, entry_id)
        )""",
        # Questions the bot could not answer outright (fallback, clarify) and answers people
        # marked 👎, for staff to review. ``asker`` is at most a salted, per-day hash.
        """CREATE TABLE misses (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            day TEXT NOT NULL,
            channel TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('fallback', 'clarify', 'downvote')),
            question TEXT NOT NULL,
            normalized TEXT NOT NULL,
            pinyin TEXT NOT NULL DEFAULT '',
            lang TEXT NOT NULL DEFAULT 'zh',
            candidates TEXT NOT NULL DEFAULT '[]',
            entry_id TEXT,
            picked TEXT,
            asker TEXT,
            resolution TEXT CHECK (resolution IN ('added', 'out_of_scope')),
            resolved_entry TEXT,
            resolved_at TEXT
        )""",
        "CREATE INDEX misses_open ON misses (resolution, id)",
        "CREATE INDEX misses_by_day ON misses (day)",
        """CREATE TABLE feedback (
            day TEXT NOT NULL,
            channel TEXT NOT NULL,
            entry_id TEXT NOT NULL,
            up INTEGER NOT NULL DEFAULT 0,
            down INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (day, channel, entry_id)
        )""",
        # Normalised questions staff marked out of scope: never offered for review again.
        """CREATE TABLE review_marks (
            normalized TEXT PRIMARY KEY,
            decision TEXT NOT NULL CHECK (decision IN ('out_of_scope')),
            at TEXT NOT NULL
        )""",
    ),
]
MIGRATIONS.append((  # 3: sign-ups go to people, not scripts
    # A keyed hash of the client address a web booking came from (limits and `--suspicious`).
    "ALTER TABLE bookings ADD COLUMN client TEXT",
    "CREATE INDEX bookings_by_client ON bookings (client, created_at)",
    # One active booking per mobile number per session: before the rule, later duplicates go.
    """UPDATE bookings SET status = 'cancelled' WHERE status IN ('booked', 'waiting')
        AND id NOT IN (SELECT MIN(id) FROM bookings WHERE status IN ('booked', 'waiting')
                       GROUP BY session_id, phone)""",
    """CREATE UNIQUE INDEX bookings_one_per_phone ON bookings (session_id, phone)
        WHERE status IN ('booked', 'waiting')""",
    # What /healthz writes to prove the database can still be written.
    "CREATE TABLE health (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL)",
))
MIGRATIONS.append((  # 4: several replicas over one database (issue 13)
    # An outbox message is claimed by one replica until ``claimed_until``; a replica that
    # dies holding a claim loses it when the time passes, and another one sends the message.
    "ALTER TABLE outbox ADD COLUMN claimed_by TEXT",
    "ALTER TABLE outbox ADD COLUMN claimed_until TEXT",
    # Values every replica must agree on: the web session key, the statistics salt, and when
    # a once-per-deployment job (setWebhook) last ran.
    """CREATE TABLE shared_values (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        at TEXT NOT NULL
    )""",
    # Token buckets of the request rate limit, shared by the replicas.
    """CREATE TABLE rate_buckets (
        key TEXT PRIMARY KEY,
        tokens REAL NOT NULL,
        at REAL NOT NULL,
        allowed INTEGER NOT NULL DEFAULT 1
    )""",
    "CREATE INDEX rate_buckets_by_time ON rate_buckets (at)",
    # Leases that serialise one person's requests across replicas (bot.limits.SharedPersonLocks).
    """CREATE TABLE person_locks (
        key TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        until REAL NOT NULL
    )""",
))
SCHEMA_VERSION = len(MIGRATIONS)
