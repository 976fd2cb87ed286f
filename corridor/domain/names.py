"""A person's name as registrars record it: four parts, in Latin and original script."""

from __future__ import annotations

# Own, father's, grandfather's and family name; then the same in the original script.
NAME_PARTS = (
    "given_name",
    "father_name",
    "grandfather_name",
    "family_name",
    "given_name_original",
    "father_name_original",
    "grandfather_name_original",
    "family_name_original",
)
