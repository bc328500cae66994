"""What the shop sells: categories, the nouns products are named with, prices, weights and the
options their variants come in. Plain data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Leaf:
    nouns: tuple[str, ...]  # empty: a title is made up instead (books)
    price: tuple[int, int]  # euros
    grams: tuple[int, int]  # 0: a download
    options: str  # a key of OPTIONS
    weight: float = 1.0  # how many of the products land here


ROOTS: dict[str, dict[str, Leaf]] = {
    "Kitchen": {
        "Kettles": Leaf(
            ("Kettle", "Electric Kettle", "Stovetop Kettle"), (19, 89), (900, 1800), "colour"
        ),
        "Pans": Leaf(
            ("Frying Pan", "Saute Pan", "Wok", "Saucepan"), (15, 120), (800, 2600), "diameter"
        ),
        "Knives": Leaf(
            ("Chef's Knife", "Bread Knife", "Paring Knife", "Knife Block"),
            (9, 149),
            (100, 1500),
            "none",
        ),
        "Coffee": Leaf(
            ("Coffee Grinder", "French Press", "Pour-Over Set", "Espresso Cups"),
            (12, 189),
            (300, 3000),
            "colour",
        ),
    },
    "Books": {
        "Fiction": Leaf((), (9, 26), (250, 700), "format"),
        "History": Leaf((), (12, 39), (400, 1100), "format"),
        "Cooking": Leaf((), (14, 39), (600, 1300), "format"),
        "Science": Leaf((), (11, 35), (300, 900), "format"),
    },
    "Garden": {
        "Tools": Leaf(
            ("Spade", "Pruning Shears", "Hand Trowel", "Rake", "Hose Reel"),
            (8, 79),
            (300, 4000),
            "none",
        ),
        "Seeds": Leaf(
            ("Tomato Seeds", "Herb Seed Kit", "Wildflower Mix", "Sunflower Seeds"),
            (2, 15),
            (20, 200),
            "pack",
        ),
        "Furniture": Leaf(
            ("Garden Chair", "Bench", "Parasol", "Lounger"), (39, 399), (4000, 25000), "colour"
        ),
    },
    "Toys": {
        "Puzzles": Leaf(
            ("Jigsaw Puzzle", "Panorama Puzzle", "3D Puzzle"), (9, 39), (400, 1200), "pieces"
        ),
        "Board Games": Leaf(
            ("Board Game", "Card Game", "Strategy Game", "Party Game"),
            (12, 69),
            (500, 2500),
            "none",
        ),
        "Outdoor": Leaf(
            ("Kite", "Frisbee", "Water Blaster", "Sandpit Set"), (6, 79), (150, 6000), "colour"
        ),
    },
    "Electronics": {
        "Headphones": Leaf(("Headphones", "Earbuds", "Headset"), (19, 299), (50, 400), "colour"),
        "Chargers": Leaf(
            ("USB-C Charger", "Power Bank", "Wireless Charger", "Charging Cable"),
            (9, 79),
            (50, 400),
            "pack",
        ),
        "Lamps": Leaf(
            ("Desk Lamp", "Floor Lamp", "Reading Light"), (19, 189), (600, 6000), "colour"
        ),
    },
    "Clothing": {
        "Shirts": Leaf(
            ("Shirt", "T-Shirt", "Polo Shirt", "Flannel Shirt"), (15, 79), (150, 350), "size"
        ),
        "Jackets": Leaf(
            ("Rain Jacket", "Down Jacket", "Fleece", "Softshell"), (49, 299), (400, 1500), "size"
        ),
        "Socks": Leaf(("Socks", "Hiking Socks", "Wool Socks"), (5, 25), (50, 150), "size"),
    },
    "Sports": {
        "Running": Leaf(
            ("Running Shoes", "Trail Shoes", "Racing Flats"), (59, 189), (500, 800), "shoe"
        ),
        "Cycling": Leaf(
            ("Bike Light", "Helmet", "Bottle Cage", "Saddle Bag"), (9, 149), (100, 800), "colour"
        ),
        "Yoga": Leaf(
            ("Yoga Mat", "Yoga Block", "Yoga Strap", "Meditation Cushion"),
            (9, 89),
            (200, 2500),
            "colour",
        ),
    },
    "Office": {
        "Notebooks": Leaf(("Notebook", "Journal", "Sketchbook"), (4, 29), (150, 600), "paper"),
        "Pens": Leaf(
            ("Fountain Pen", "Gel Pens", "Fineliner Set", "Ballpoint Pen"),
            (3, 149),
            (20, 200),
            "colour",
        ),
        "Desk": Leaf(
            ("Desk Organiser", "Monitor Stand", "Desk Mat", "Letter Tray"),
            (12, 99),
            (300, 4000),
            "colour",
        ),
    },
    "Digital": {
        "E-books": Leaf((), (3, 19), (0, 0), "ebook", weight=0.4),
        "Gift Cards": Leaf(("Gift Card",), (10, 10), (0, 0), "value", weight=0.05),
        "Audiobooks": Leaf((), (9, 29), (0, 0), "single", weight=0.3),
    },
}
DIGITAL_ROOT = "Digital"

# name: (labels, how many a product has (low, high), price factor per label)
OPTIONS: dict[str, tuple[tuple[str, ...], tuple[int, int], tuple[float, ...]]] = {
    "colour": (("Black", "White", "Grey", "Navy", "Red", "Sage", "Copper"), (2, 6), ()),
    "size": (("XS", "S", "M", "L", "XL", "XXL"), (3, 6), ()),
    "shoe": (("39", "40", "41", "42", "43", "44", "45", "46"), (4, 7), ()),
    "format": (("Paperback", "Hardcover"), (1, 2), (1.0, 1.7)),
    "ebook": (("EPUB", "PDF"), (1, 2), (1.0, 1.0)),
    "pack": (("Single", "Pack of 3", "Pack of 10"), (1, 3), (1.0, 2.6, 7.5)),
    "diameter": (("20 cm", "24 cm", "28 cm", "32 cm"), (1, 4), (1.0, 1.15, 1.3, 1.5)),
    "pieces": (("500 pieces", "1000 pieces", "2000 pieces"), (1, 3), (1.0, 1.3, 1.8)),
    "paper": (("Ruled", "Dotted", "Plain"), (2, 3), ()),
    "value": (("10 EUR", "25 EUR", "50 EUR", "100 EUR"), (4, 4), (1.0, 2.5, 5.0, 10.0)),
    "single": (("",), (1, 1), ()),
    "none": (("",), (1, 1), ()),
}

ADJECTIVES = (
    "Classic",
    "Copper",
    "Organic",
    "Compact",
    "Deluxe",
    "Everyday",
    "Nordic",
    "Alpine",
    "Vintage",
    "Bamboo",
    "Cast-Iron",
    "Wireless",
    "Merino",
    "Recycled",
    "Heritage",
    "Urban",
    "Coastal",
    "Studio",
)
MODELS = ("", "", "", " Pro", " Mini", " 2", " Max", " Plus", " Lite", " XL")
TITLE_WORDS = (
    (
        "Silent",
        "Last",
        "Hidden",
        "Northern",
        "Forgotten",
        "Glass",
        "Winter",
        "Salt",
        "Paper",
        "Iron",
        "Quiet",
        "Distant",
        "Golden",
        "Lost",
        "Little",
        "Long",
    ),
    (
        "Harbour",
        "Garden",
        "Orchard",
        "Kingdom",
        "River",
        "Lighthouse",
        "Archive",
        "Machine",
        "Season",
        "Island",
        "Letters",
        "Kitchen",
        "Map",
        "Station",
        "Forest",
        "Summer",
    ),
)
BOOK_PATTERNS = {
    "Fiction": ("The {a} {n}", "A {n} in {city}", "The {n} of {city}"),
    "History": ("{city}: A History", "The {a} Century", "Empire of {n}s"),
    "Cooking": ("Cooking with {n}s", "{city} Kitchen", "The {a} Table"),
    "Science": ("The Science of {n}s", "How {n}s Work", "A Brief History of {n}s"),
    "E-books": ("The {a} {n}", "{city} Nights", "The {n} Diaries"),
    "Audiobooks": ("The {a} {n}", "Voices of {city}", "The {n} Keeper"),
}
PRAISE = {
    "Kitchen": "Built for daily use and easy to clean.",
    "Books": "A book readers keep coming back to.",
    "Garden": "Made to last through many seasons outdoors.",
    "Toys": "Hours of fun for the whole family.",
    "Electronics": "Two-year warranty and free software updates.",
    "Clothing": "Comfortable fit, machine washable at 30 degrees.",
    "Sports": "Tested by our team on trails and in the studio.",
    "Office": "Everything in its place, every working day.",
    "Digital": "Delivered instantly by e-mail after payment.",
}
