-- The SAML signing keys of planned rollovers (storage.SigningKeys): every
-- node reads them, so all publish and switch keys at the same times.
CREATE TABLE signing_keys (
    id              TEXT PRIMARY KEY,
    cert            {{.Blob}} NOT NULL,
    private         {{.Blob}} NOT NULL,
    hsm_label       TEXT NOT NULL,
    configured      INTEGER NOT NULL,
    publish_at      {{.Time}},
    activate_at     {{.Time}},
    retire_at       {{.Time}},
    switch_recorded {{.Time}},
    retire_recorded {{.Time}},
    created_at      {{.Time}} NOT NULL
);
-- Every update takes this row's lock first, so two planners never both
-- see the set they replace.
INSERT INTO revisions (name, value) VALUES ('signing_keys', 1);
