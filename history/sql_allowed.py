"""What the history query endpoint lets a SELECT name: tables and ClickHouse functions.

An allow-list, not a deny-list: a name that is not here is refused with its name, so a
function ClickHouse adds tomorrow (or one that reads a file, like the scalar
``file(path)``, or a dictionary, or the network) is refused until someone lists it on
purpose. Functions are ClickHouse's own names (docs: clickhouse.com/docs/sql-reference/
functions); sqlglot turns the standard ones it knows (count, sum, round, lower, CAST...)
into typed expressions, which need no listing.
"""

from __future__ import annotations

import re

from gamsi.history.schema import DELIVERIES, EVENTS, HOSTS, REMEDIATIONS, SAMPLES


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


GAMSI_TABLES = frozenset(
    {t.name for t in (SAMPLES, EVENTS, HOSTS, DELIVERIES, REMEDIATIONS)} | {"samples_1m"}
)
"""Gamsi's own tables (history/schema.py); the materialized view is not read directly."""

SYSTEM_TABLES = frozenset({"tables", "columns", "parts", "settings"})
"""``system.*`` tables listed on purpose: what tables exist, their columns (what SHOW
TABLES and DESCRIBE told), their size on disk, and the settings in force (what
clickhouse-connect reads on connect; each reads ``readonly = 1`` on the locked client,
and none holds a secret). Nothing about processes, users or the server's files."""

AGGREGATES = _words(
    """
    count sum avg min max any anyLast anyHeavy argMin argMax uniq uniqExact uniqCombined
    uniqCombined64 uniqHLL12 groupArray groupUniqArray groupArraySorted groupBitOr
    quantile quantiles quantileExact quantilesExact quantileTiming quantileTDigest
    quantilesTDigest median medianExact stddevPop stddevSamp varPop varSamp corr covarPop
    covarSamp topK topKWeighted histogram sumMap minMap maxMap avgWeighted deltaSum
    simpleLinearRegression entropy skewPop kurtPop first_value last_value any_value
    """
)
"""Aggregate functions; each may carry ClickHouse's combinators (see COMBINATORS)."""

COMBINATORS = ("If", "Array", "Merge", "State", "OrNull", "OrDefault", "Distinct", "ForEach")

WINDOW = _words(
    "row_number rank dense_rank percent_rank cume_dist ntile lagInFrame leadInFrame "
    "nth_value lag lead"
)

SCALARS = _words(
    """
    now now64 today yesterday toDate toDate32 toDateTime toDateTime64 toDateOrNull
    toDateTimeOrNull parseDateTimeBestEffort parseDateTimeBestEffortOrNull
    parseDateTime64BestEffort toUnixTimestamp toUnixTimestamp64Milli
    toUnixTimestamp64Micro fromUnixTimestamp fromUnixTimestamp64Milli
    fromUnixTimestamp64Micro toStartOfSecond toStartOfMinute toStartOfFiveMinutes
    toStartOfTenMinutes toStartOfFifteenMinutes toStartOfHour toStartOfDay toStartOfWeek
    toMonday toStartOfMonth toStartOfQuarter toStartOfYear toStartOfInterval toYear
    toMonth toDayOfMonth toDayOfWeek toDayOfYear toHour toMinute toSecond toYYYYMM
    toYYYYMMDD toYYYYMMDDhhmmss toTimeZone formatDateTime dateDiff date_diff dateAdd
    dateSub date_add date_sub dateTrunc date_trunc timeSlot age addSeconds addMinutes
    addHours addDays addWeeks addMonths subtractSeconds subtractMinutes subtractHours
    subtractDays subtractWeeks subtractMonths toIntervalSecond toIntervalMinute
    toIntervalHour toIntervalDay toIntervalWeek toIntervalMonth toRelativeMinuteNum
    toRelativeHourNum toRelativeDayNum
    toInt8 toInt16 toInt32 toInt64 toUInt8 toUInt16 toUInt32 toUInt64 toFloat32
    toFloat64 toString toDecimal64 toInt64OrNull toInt64OrZero toFloat64OrNull
    toFloat64OrZero toTypeName toLowCardinality
    if multiIf ifNull nullIf coalesce isNull isNotNull assumeNotNull greatest least
    isFinite isNaN isInfinite
    abs round roundBankers floor ceil trunc sqrt cbrt exp log ln log2 log10 pow power
    intDiv modulo negate sign
    length lengthUTF8 empty notEmpty lower upper lowerUTF8 upperUTF8 concat
    concatWithSeparator substring substr substringUTF8 position positionCaseInsensitive
    startsWith endsWith like notLike ilike match extract extractAll replace replaceAll
    replaceOne replaceRegexpAll replaceRegexpOne splitByChar splitByString trim
    trimBoth trimLeft trimRight leftPad rightPad format toValidUTF8 reverse left right
    multiSearchAny
    array has hasAny hasAll indexOf arrayJoin arrayMap arrayFilter arrayExists arrayAll
    arraySort arrayReverseSort arrayDistinct arrayStringConcat arrayElement arraySlice
    arrayConcat arrayCount arraySum arrayMin arrayMax arrayAvg arrayUniq arrayEnumerate
    arrayZip range tuple tupleElement untuple
    equals notEquals less greater lessOrEquals greaterOrEquals and or not in notIn
    plus minus multiply divide
    currentDatabase version timezone bar formatReadableSize formatReadableQuantity
    formatReadableTimeDelta cityHash64 sipHash64
    """
)
"""Pure scalar functions: dates, conversions, conditionals, maths, strings, arrays."""

_ALLOWED = {name.lower() for name in SCALARS | WINDOW | AGGREGATES}
_AGGREGATE = {name.lower() for name in AGGREGATES}
_COMBINED = re.compile(f"^(?P<base>.+?)(?:{'|'.join(COMBINATORS)})+$")


def function_allowed(name: str) -> bool:
    """Whether the endpoint runs the ClickHouse function ``name`` (case-insensitive, as
    ClickHouse accepts most names), aggregates with any chain of combinators included."""
    if name.lower() in _ALLOWED:
        return True
    combined = _COMBINED.match(name)
    return combined is not None and combined["base"].lower() in _AGGREGATE


__all__ = ["GAMSI_TABLES", "SYSTEM_TABLES", "function_allowed"]
