-- Viewer attribution (issue 22, item 1), postgres dialect. Keep in step with the other
-- dialect's 0019_view_attribution.sql, which explains each column.
CREATE TABLE gateway_views (
    document_id  TEXT COLLATE "C" NOT NULL,
    record       BIGINT NOT NULL,
    hit          BIGINT NOT NULL,
    time         BIGINT NOT NULL,
    outcome      TEXT   NOT NULL CHECK (outcome IN ('opened', 'passed', 'failed')),
    nonce        TEXT COLLATE "C",
    address      TEXT,
    PRIMARY KEY (document_id, record, hit)
);

CREATE UNIQUE INDEX gateway_views_nonce ON gateway_views (nonce) WHERE nonce IS NOT NULL;

CREATE TABLE vault_downloads (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id  TEXT COLLATE "C" NOT NULL,
    record       BIGINT NOT NULL,
    nonce        TEXT COLLATE "C" NOT NULL,
    time         BIGINT NOT NULL,
    status       BIGINT NOT NULL,
    bytes_sent   BIGINT NOT NULL,
    object_size  BIGINT,
    complete     BIGINT NOT NULL
);

CREATE INDEX vault_downloads_record
    ON vault_downloads (document_id, record, complete, bytes_sent, time);
