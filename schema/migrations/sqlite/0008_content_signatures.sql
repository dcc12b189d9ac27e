-- Signed content (DESIGN.md, "Signed responses"), sqlite dialect.
-- Keep in step with ../postgres/0008_content_signatures.sql.

-- One row per stored object whose content was signed when it was stored: the lowercase hex
-- SHA-256 of the plaintext, and the instance key's `x-sealpost-signature` and
-- `x-sealpost-signature-date` over it, which the vault's handle endpoint sends with a whole
-- download. The API signs (the vault holds no signing key); the row goes with its object.
-- Objects stored before this migration have none, and their downloads carry no signature.
CREATE TABLE object_signatures (
    object_key      TEXT    PRIMARY KEY REFERENCES objects (key) ON DELETE CASCADE,
    sha256          TEXT    NOT NULL,
    signature       TEXT    NOT NULL,
    signature_date  TEXT    NOT NULL
);
