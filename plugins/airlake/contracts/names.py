"""Name rules of contracts: dataset, column and table names safe as S3 prefix segments and unquoted SQL.

A name is 1-63 characters (PostgreSQL's identifier limit), lowercase ASCII letters, digits and ``_``,
starting with a letter, and not a reserved word of any engine Airlake writes SQL for: PostgreSQL,
Redshift, Athena (Hive DDL and Trino DML) and DuckDB. Such a name needs no quoting anywhere, means
the same in every engine (no case folding surprises) and is a valid S3 key segment.
"""

from __future__ import annotations

import re

IDENTIFIER_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
_IDENTIFIER_RE = re.compile(IDENTIFIER_PATTERN)

QUALIFIED_PATTERN = r"^[a-z][a-z0-9_]{0,62}\.[a-z][a-z0-9_]{0,62}$"
TABLE_PATTERN = r"^([a-z][a-z0-9_]{0,62}\.)?[a-z][a-z0-9_]{0,62}$"

_POSTGRES = """
all analyse analyze and any array as asc asymmetric authorization binary both case cast check collate
collation column concurrently constraint create cross current_catalog current_date current_role
current_schema current_time current_timestamp current_user default deferrable desc distinct do else end
except false fetch for foreign freeze from full grant group having ilike in initially inner intersect into
is isnull join lateral leading left like limit localtime localtimestamp natural not notnull null offset on
only or order outer overlaps placing primary references returning right select session_user similar some
symmetric system_user table tablesample then to trailing true union unique user using variadic verbose when
where window with
"""

_REDSHIFT = """
aes128 aes256 all allowoverwrite analyse analyze and any array as asc authorization az64 backup between
binary blanksasnull both bytedict bzip2 case cast check collate column constraint create credentials cross
current_date current_time current_timestamp current_user current_user_id default deferrable deflate defrag
delta delta32k desc disable distinct do else emptyasnull enable encode encrypt encryption end except
explicit false for foreign freeze from full globaldict256 globaldict64k grant group gzip having identity
ignore ilike in initially inner intersect interval into is isnull join language leading left like limit
localtime localtimestamp lun luns lzo lzop minus mostly16 mostly32 mostly8 natural new not notnull null
nulls off offline offset oid old on only open or order outer overlaps parallel partition percent
permissions pivot placing primary raw readratio recover references rejectlog resort respect restore right
select session_user similar snapshot some sysdate system table tag tdes text255 text32k then timestamp to
top trailing true truncatecolumns union unique unnest unpivot user using verbose wallet when where with
without
"""

_ATHENA_DDL = """
all alter and array as authorization between bigint binary boolean both by case cashe cast char column conf
constraint commit create cross cube current current_date current_timestamp cursor database date dayofweek
decimal delete describe distinct div double drop else end exchange exists extended external extract false
fetch float floor following for foreign from full function grant group grouping having if import in inner
insert int integer intersect interval into is join lateral left less like local macro map more none not
null numeric of on only or order out outer over partialscan partition percent preceding precision preserve
primary procedure range reads reduce references regexp revoke right rlike rollback rollup row rows select
set smallint start table tablesample then time timestamp to transform trigger true truncate unbounded union
uniquejoin update user using utc_timestamp values varchar views when where window with
"""

_TRINO = """
alter and as between by case cast constraint create cross cube current_catalog current_date current_path
current_role current_schema current_time current_timestamp current_user deallocate delete describe distinct
drop else end escape except execute exists extract false for from full group grouping having in inner
insert intersect into is join json_array json_exists json_object json_query json_table json_value left like
listagg localtime localtimestamp natural normalize not null on or order outer prepare recursive right
rollup select skip table then trim true uescape union unnest using values when where with
"""

_DUCKDB = """
all analyse analyze and any array as asc asymmetric both case cast check collate column constraint create
default deferrable desc describe distinct do else end except false fetch for foreign from grant group having
in initially intersect into lambda lateral leading limit not null offset on only or order pivot pivot_longer
pivot_wider placing primary qualify references returning select show some summarize symmetric table then to
trailing true union unique unpivot using variadic when where window with
"""

RESERVED_WORDS: frozenset[str] = frozenset(
    word for block in (_POSTGRES, _REDSHIFT, _ATHENA_DDL, _TRINO, _DUCKDB) for word in block.split()
)


def identifier_problem(value: str) -> str | None:
    """Why ``value`` is not a safe name, or None when it is."""
    if not _IDENTIFIER_RE.match(value):
        if value and _IDENTIFIER_RE.match(value.lower()):
            return f"invalid name {value!r}: names are lowercase (use {value.lower()!r})"
        return (
            f"invalid name {value!r}: use lowercase letters, digits and '_', "
            "starting with a letter, at most 63"
        )
    if value in RESERVED_WORDS:
        return f"invalid name {value!r}: it is a reserved SQL word (PostgreSQL/Redshift/Athena/DuckDB)"
    return None


def check_identifier(value: str) -> str:
    """Return ``value`` if it is a safe name, else raise ValueError saying why."""
    problem = identifier_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def check_table_name(value: str, *, require_schema: bool = False) -> str:
    """``table`` or ``schema.table`` (only ``schema.table`` with ``require_schema``); parts are safe names."""
    parts = value.split(".")
    if len(parts) > 2 or (require_schema and len(parts) != 2):
        expected = "'schema.table'" if require_schema else "'table' or 'schema.table'"
        raise ValueError(f"invalid table {value!r}: expected {expected}")
    for part in parts:
        problem = identifier_problem(part)
        if problem:
            raise ValueError(f"invalid table {value!r}: {problem}")
    return value
