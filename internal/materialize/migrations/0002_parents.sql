-- Civil-status schema v2: a birth act may carry the parents' NINs. They
-- list a person as a child on each parent's fiche familiale. NULL for
-- persons whose parents are not registered, and for records written with
-- schema v1 (read through v2, they take the null default).
ALTER TABLE persons ADD COLUMN father_nin text, ADD COLUMN mother_nin text;

-- The fiche familiale looks a person's children up by either parent.
CREATE INDEX persons_father ON persons (father_nin) WHERE NOT deleted AND father_nin IS NOT NULL;
CREATE INDEX persons_mother ON persons (mother_nin) WHERE NOT deleted AND mother_nin IS NOT NULL;
