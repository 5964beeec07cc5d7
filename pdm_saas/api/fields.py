"""The ranges PostgreSQL's integer columns hold, for serializer fields whose number lands in one.

A ModelSerializer field built from a model field gets these bounds from Django; a field declared
by hand does not, and a number past them reached the database as a DataError (a 500). Declared
integer fields take `max_value=` from here, so the caller gets a 400 naming the field.
"""

from __future__ import annotations

INTEGER_MAX = 2**31 - 1  # `integer`: IntegerField, PositiveIntegerField
BIGINT_MAX = 2**63 - 1  # `bigint`: primary keys (BigAutoField) and the ids that refer to them
