"""Consistent pseudonyms: a made-up value of the right kind, picked by a number per row.

The caller hands in each row's keyed HMAC as a 60-bit integer, so the same value and key always
pick the same pseudonym and nobody without the key can tell which input gave which fake. The
pseudonyms are assembled column-wise from small built-in word lists with ``take`` and string
kernels; every address and number points nowhere real (``example.*`` domains, the fictional
555 telephone exchange).

A pseudonym that happens to equal its input is replaced by the one of the next number, so a fake
never leaks the value it stands for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    from numpy.typing import NDArray

__all__ = ["FakeKind", "pseudonyms"]

FakeKind = Literal[
    "token",
    "first_name",
    "last_name",
    "name",
    "email",
    "phone",
    "street_address",
    "city",
    "postal_code",
]

_FIRST = pa.array(
    [
        "Ada",
        "Alan",
        "Amara",
        "Anna",
        "Aziz",
        "Bea",
        "Bruno",
        "Chen",
        "Chloe",
        "Dario",
        "Diego",
        "Elif",
        "Emil",
        "Emma",
        "Farah",
        "Felix",
        "Greta",
        "Hana",
        "Hugo",
        "Ines",
        "Ivan",
        "Jonas",
        "Kai",
        "Karin",
        "Lars",
        "Leila",
        "Lena",
        "Liam",
        "Luca",
        "Maja",
        "Malik",
        "Mara",
        "Mateo",
        "Mina",
        "Nadia",
        "Nils",
        "Noor",
        "Olga",
        "Omar",
        "Paula",
        "Pavel",
        "Priya",
        "Rafael",
        "Rosa",
        "Sami",
        "Sara",
        "Sofia",
        "Tariq",
        "Theo",
        "Uma",
        "Vera",
        "Viktor",
        "Wen",
        "Yara",
        "Yusuf",
        "Zara",
        "Zoe",
        "Ola",
        "Ruth",
        "Ezra",
    ]
)
_LAST = pa.array(
    [
        "Abbott",
        "Alvarez",
        "Bauer",
        "Becker",
        "Berg",
        "Brandt",
        "Castillo",
        "Costa",
        "Dahl",
        "Dubois",
        "Eriksen",
        "Ferrari",
        "Fischer",
        "Garcia",
        "Haas",
        "Hansen",
        "Ito",
        "Jansen",
        "Kaya",
        "Keller",
        "Kowalski",
        "Lambert",
        "Larsen",
        "Lindqvist",
        "Lopez",
        "Marino",
        "Meyer",
        "Moreau",
        "Nakamura",
        "Novak",
        "Olsen",
        "Ortiz",
        "Park",
        "Petit",
        "Quinn",
        "Ramos",
        "Rossi",
        "Sato",
        "Schmidt",
        "Silva",
        "Sorensen",
        "Tanaka",
        "Torres",
        "Varga",
        "Vogel",
        "Wagner",
        "Weber",
        "Yilmaz",
        "Young",
        "Zimmermann",
        "Nowak",
        "Reyes",
        "Holm",
        "Santos",
        "Kim",
        "Moller",
        "Adeyemi",
        "Okafor",
        "Mensah",
        "Dubek",
    ]
)
_CITY = pa.array(
    [
        "Ashford",
        "Bramley",
        "Carden",
        "Dunmore",
        "Elmstead",
        "Fairhaven",
        "Glenrock",
        "Harrow",
        "Ivywood",
        "Kingsbay",
        "Lakemont",
        "Millbrook",
        "Northcote",
        "Oakridge",
        "Pinecrest",
        "Queensford",
        "Riverton",
        "Southmere",
        "Thornbury",
        "Upton",
        "Valemont",
        "Westbrook",
        "Yarrow",
        "Zephyr",
    ]
)
_STREET = pa.array(
    [
        "Acacia Avenue",
        "Beech Road",
        "Cedar Lane",
        "Elm Street",
        "Hawthorn Way",
        "Juniper Close",
        "Larch Drive",
        "Maple Grove",
        "Oak Terrace",
        "Poplar Row",
        "Rowan Court",
        "Willow Walk",
    ]
)


def _pick(words: pa.Array, numbers: NDArray[np.int64]) -> pa.Array:
    return pc.take(words, pa.array(numbers % len(words)))


def _digits(numbers: NDArray[np.int64], width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(numbers % 10**width), pa.string()), width, "0")


def _name(numbers: NDArray[np.int64]) -> pa.Array:
    return pc.binary_join_element_wise(
        _pick(_FIRST, numbers), _pick(_LAST, numbers // len(_FIRST)), " "
    )


def _email(numbers: NDArray[np.int64]) -> pa.Array:
    return pc.binary_join_element_wise(
        pc.utf8_lower(_pick(_FIRST, numbers)),
        ".",
        pc.utf8_lower(_pick(_LAST, numbers // len(_FIRST))),
        _digits(numbers // (len(_FIRST) * len(_LAST)), 4),
        "@example.com",
        "",
    )


def _phone(numbers: NDArray[np.int64]) -> pa.Array:
    return pc.binary_join_element_wise(
        "+1-555-", _digits(numbers // 10_000, 3), "-", _digits(numbers, 4), ""
    )


def _street(numbers: NDArray[np.int64]) -> pa.Array:
    return pc.binary_join_element_wise(
        pc.cast(pa.array(numbers % 999 + 1), pa.string()), _pick(_STREET, numbers // 999), " "
    )


_MAKERS: dict[str, Callable[[NDArray[np.int64]], pa.Array]] = {
    "token": lambda numbers: pc.binary_join_element_wise("tok_", _digits(numbers, 12), ""),
    "first_name": lambda numbers: _pick(_FIRST, numbers),
    "last_name": lambda numbers: _pick(_LAST, numbers),
    "name": _name,
    "email": _email,
    "phone": _phone,
    "street_address": _street,
    "city": lambda numbers: _pick(_CITY, numbers),
    "postal_code": lambda numbers: _digits(numbers, 5),
}
"""One maker per kind: the pseudonyms for ``numbers`` (non-negative int64), one per row."""


def pseudonyms(strings: pa.Array, numbers: pa.Array, kind: FakeKind) -> pa.Array:
    """A ``kind`` pseudonym per row of ``strings``, picked by ``numbers``; null stays null."""
    picks = numbers.fill_null(0).to_numpy(zero_copy_only=False)
    make = _MAKERS[kind]
    fakes = make(picks)
    same = pc.fill_null(pc.equal(fakes, strings), fill_value=False)
    if pc.any(same).as_py():
        fakes = pc.if_else(same, make(picks + 1), fakes)
    return pc.if_else(pc.is_valid(strings), fakes, pa.scalar(None, pa.string()))
