-- The state database as storybot at eefcfa7 wrote it (tests/stories/test_upgrade.py).
BEGIN TRANSACTION;
CREATE TABLE announce_cursor (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        audit_id INTEGER NOT NULL             -- the last audit row announced
    );
INSERT INTO "announce_cursor" VALUES(1,7);
CREATE TABLE answer_votes (
    answer_id INTEGER NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
    voter TEXT NOT NULL,                   -- member tag
    PRIMARY KEY (answer_id, voter)
) WITHOUT ROWID
;
INSERT INTO "answer_votes" VALUES(1,'092609b15cb767ef904a1f33154f88e2');
CREATE TABLE answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- in the buttons' custom_ids: never reused
    created_at TEXT NOT NULL,              -- ISO 8601, UTC
    question TEXT NOT NULL,
    shown INTEGER NOT NULL,                -- excerpts the answer showed
    answered INTEGER NOT NULL,
    question_id INTEGER,                   -- the question log's row (NULL: not logged)
    asker TEXT NOT NULL,                   -- member tag of who asked
    via_interaction INTEGER NOT NULL       -- 1: an interaction reply, 0: a channel message
);
INSERT INTO "answers" VALUES(1,'2026-12-05T00:20:18+00:00','Who directed Cuties?',3,1,1,'dd1cfa30e887a13548afb59de642c99c',1);
INSERT INTO "answers" VALUES(2,'2026-12-05T00:20:18+00:00','what is the price of tea in china',0,0,2,'1198eb84f55bbdc7b3d4c41bb50352c4',0);
CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        source_id TEXT,
        url TEXT,
        detail TEXT
    , state TEXT NOT NULL DEFAULT 'done', target TEXT NOT NULL DEFAULT '');
INSERT INTO "audit" VALUES(1,'2026-12-05T00:20:18+00:00','mod-a (1) via Discord','add','ferry-times','https://news.example/ferry','','done','ferry-times.txt');
INSERT INTO "audit" VALUES(2,'2026-12-05T00:20:18+00:00','cli','add','bridge','','','done','bridge.txt');
INSERT INTO "audit" VALUES(3,'2026-12-05T00:20:18+00:00','mod-b (2) via Discord','remove','ferry-times','https://news.example/ferry','','done','ferry-times.txt');
INSERT INTO "audit" VALUES(4,'2026-12-05T00:20:18+00:00','mod-a (1) via Discord','restore','ferry-times','https://news.example/ferry','','done','ferry-times.txt');
INSERT INTO "audit" VALUES(5,'2026-12-05T00:20:18+00:00','mod-a (1) via Discord','feed add','','https://news.example/feed.xml','feed 1 (feed)','done','');
INSERT INTO "audit" VALUES(6,'2026-12-05T00:20:18+00:00','cli','feed add','','https://other.example/topic','feed 2 (page)','done','');
INSERT INTO "audit" VALUES(7,'2026-12-05T00:20:18+00:00','mod-b (2) via Discord','ignore','','https://news.example/item-1','candidate 2','done','');
CREATE TABLE feed_items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        url TEXT NOT NULL,
        url_key TEXT NOT NULL UNIQUE,
        feed_id INTEGER,                        -- the feed that listed it first
        title TEXT NOT NULL DEFAULT '',
        summary TEXT NOT NULL DEFAULT '',
        publisher TEXT NOT NULL DEFAULT '',
        published TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        score REAL,
        terms TEXT NOT NULL DEFAULT '[]',       -- JSON: the item's words in the matched passage
        match_source TEXT NOT NULL DEFAULT '',  -- the corpus passage it matched best
        match_start INTEGER,
        match_end INTEGER,
        match_text TEXT NOT NULL DEFAULT '',    -- that passage's text when it was judged
        reason TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL DEFAULT 0,
        found_at TEXT NOT NULL,
        decided_by TEXT NOT NULL DEFAULT '',
        decided_at TEXT NOT NULL DEFAULT '',
        source_id TEXT NOT NULL DEFAULT '',
        posted TEXT NOT NULL DEFAULT ''         -- where an adapter showed it (e.g. a message)
    );
INSERT INTO "feed_items" VALUES(1,'https://news.example/item-0','https://news.example/item-0',1,'Item 0','s','News','2026-11-01','pending',1.2,'["ferry", "harbour"]','seed-story',0,10,'Cuties is','',0,'2026-11-02T10:00:00Z','','','','999/1000');
INSERT INTO "feed_items" VALUES(2,'https://news.example/item-1','https://news.example/item-1',1,'Item 1','s','News','2026-11-01','ignored',1.2,'["ferry", "harbour"]','seed-story',0,10,'Cuties is','',0,'2026-11-02T10:00:00Z','mod-b (2) via Discord','2026-12-05T00:20:18+00:00','','');
INSERT INTO "feed_items" VALUES(3,'https://news.example/item-2','https://news.example/item-2',1,'Item 2','s','News','2026-11-01','off-topic',0.3,'["ferry", "harbour"]','seed-story',0,10,'Cuties is','why',0,'2026-11-02T10:00:00Z','','','','');
INSERT INTO "feed_items" VALUES(4,'https://news.example/item-3','https://news.example/item-3',1,'Item 3','s','News','2026-11-01','retry',0.3,'["ferry", "harbour"]','seed-story',0,10,'Cuties is','why',1,'2026-11-02T10:00:00Z','','','','');
CREATE TABLE feeds (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        url TEXT NOT NULL,
        url_key TEXT NOT NULL UNIQUE,           -- normalize_url(url)
        kind TEXT NOT NULL,                     -- 'feed' (RSS/Atom) or 'page'
        title TEXT NOT NULL DEFAULT '',
        added_by TEXT NOT NULL DEFAULT '',
        added_at TEXT NOT NULL,
        etag TEXT NOT NULL DEFAULT '',
        last_modified TEXT NOT NULL DEFAULT '',
        last_polled_at TEXT NOT NULL DEFAULT '',
        last_status TEXT NOT NULL DEFAULT '',   -- 'ok', 'not modified' or the last error
        next_poll_at TEXT NOT NULL DEFAULT '',  -- '' = now
        failures INTEGER NOT NULL DEFAULT 0     -- in a row, reset by a success
    );
INSERT INTO "feeds" VALUES(1,'https://news.example/feed.xml','https://news.example/feed.xml','feed','','mod-a (1) via Discord','2026-12-05T00:20:18+00:00','','','','','',0);
INSERT INTO "feeds" VALUES(2,'https://other.example/topic','https://other.example/topic','page','','cli','2026-12-05T00:20:18+00:00','','','','','',0);
CREATE TABLE key_values (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO "key_values" VALUES('synced-commands:42:global','abc123','2026-12-05T00:20:18+00:00');
CREATE TABLE questions (
    id INTEGER PRIMARY KEY,
    asked_at TEXT NOT NULL,          -- ISO 8601, UTC
    server TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    answered INTEGER NOT NULL,
    top_score REAL,
    sources TEXT NOT NULL DEFAULT '[]',   -- JSON list of quoted source ids, best first
    helpful INTEGER NOT NULL DEFAULT 0,
    not_helpful INTEGER NOT NULL DEFAULT 0
, origin TEXT NOT NULL DEFAULT 'discord');
INSERT INTO "questions" VALUES(1,'2026-12-05T00:20:18+00:00','111','Who directed Cuties?',1,7.42998564109420733814e+00,'["seed-story"]',2,0,'discord');
INSERT INTO "questions" VALUES(2,'2026-12-05T00:20:18+00:00','','what is the price of tea in china',0,NULL,'[]',0,1,'cli');
CREATE TABLE schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL);
INSERT INTO "schema_versions" VALUES('audit',2);
INSERT INTO "schema_versions" VALUES('questions',2);
INSERT INTO "schema_versions" VALUES('answers',1);
INSERT INTO "schema_versions" VALUES('feeds',1);
INSERT INTO "schema_versions" VALUES('announcements',1);
INSERT INTO "schema_versions" VALUES('key_values',1);
CREATE INDEX audit_source ON audit (source_id)
    ;
CREATE INDEX audit_state ON audit (state)
    ;
CREATE INDEX questions_asked_at ON questions (asked_at)
;
CREATE INDEX answers_created_at ON answers (created_at);
CREATE INDEX feed_items_status ON feed_items (status, id)
    ;
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('audit',7);
INSERT INTO "sqlite_sequence" VALUES('answers',2);
INSERT INTO "sqlite_sequence" VALUES('feeds',2);
INSERT INTO "sqlite_sequence" VALUES('feed_items',4);
COMMIT;
