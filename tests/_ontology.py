"""A small AudioSet-shaped ontology shared by the DAG tests (written here: nothing is downloaded)."""

# An AudioSet-shaped ontology: real-looking machine ids, a shared child (Howl under Dog and under
# Canidae), an abstract class and a blacklisted one, and fields this library does not read.
ONTOLOGY = [
    {"id": "/m/0dgw9r", "name": "Human sounds", "child_ids": ["/m/09l8g"], "restrictions": ["abstract"]},
    {"id": "/m/09l8g", "name": "Human voice", "child_ids": ["/m/09x0r", "/t/dd00013"], "restrictions": []},
    {"id": "/m/09x0r", "name": "Speech", "description": "Spoken words.", "child_ids": [], "restrictions": []},
    {"id": "/t/dd00013", "name": "Children playing", "child_ids": [], "restrictions": ["blacklist"]},
    {"id": "/m/0jbk", "name": "Animal", "child_ids": ["/m/068hy", "/m/01280g"], "restrictions": []},
    {"id": "/m/068hy", "name": "Domestic animals, pets", "child_ids": ["/m/0bt9lr"], "restrictions": []},
    {"id": "/m/0bt9lr", "name": "Dog", "child_ids": ["/m/05tny_", "/m/07qf0zm"], "restrictions": []},
    {"id": "/m/05tny_", "name": "Bark", "child_ids": [], "positive_examples": ["youtu.be/x"]},
    {"id": "/m/01280g", "name": "Wild animals", "child_ids": ["/m/01z5f"], "restrictions": []},
    {"id": "/m/01z5f", "name": "Canidae, dogs, wolves", "child_ids": ["/m/07qf0zm"], "restrictions": []},
    {"id": "/m/07qf0zm", "name": "Howl", "child_ids": [], "restrictions": []},
    {"id": "/m/04rlf", "name": "Music", "child_ids": ["/m/04szw"], "restrictions": []},
    {"id": "/m/04szw", "name": "Musical instrument", "child_ids": ["/m/0342h"], "restrictions": ["abstract"]},
    {"id": "/m/0342h", "name": "Guitar", "child_ids": [], "restrictions": []},
]
HOWL, DOG, CANIDAE, BARK = "/m/07qf0zm", "/m/0bt9lr", "/m/01z5f", "/m/05tny_"
