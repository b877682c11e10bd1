"""appworld-mini's templates: instruction, parameters, gold and wrong solutions. Each one's
world (build and checks) is `worlds/<name>.py`; see `suite.py` for the conventions."""

from __future__ import annotations

import random
from typing import Any

from benchmarks.appworld.suite import LOGIN, Template, login

PLAYLIST_TITLES = (
    "Road Trip", "Sunday Morning", "Deep Focus", "Gym Power", "Rainy Evening", "Late Night Drive",
)  # fmt: skip
NOTE_TITLES = ("Packing List", "Book Ideas", "Garden Plan", "Recipes To Try", "Weekly Goals")
PROJECTS = ("Home Renovation", "Conference Prep", "Garden Season", "Tax Return", "Moving Out")


def _public_playlist(rng: random.Random) -> dict[str, Any]:
    return {"title": rng.choice(PLAYLIST_TITLES) + " " + rng.choice(("Mix", "Vibes", "Picks"))}


def _note_append(rng: random.Random) -> dict[str, Any]:
    line = rng.choice(("Call the plumber", "Buy sunscreen", "Renew the passport", "Email Dana"))
    return {"title": rng.choice(NOTE_TITLES), "line": line}


def _alarm(rng: random.Random) -> dict[str, Any]:
    hour, minute = rng.choice((13, 14, 17, 18, 19, 20, 21)), rng.choice((0, 15, 30, 45))
    label = rng.choice(("Take medicine", "Call mom", "Leave for practice", "Water the plants"))
    return {
        "label": label,
        "time": f"{hour:02d}:{minute:02d}",
        "spoken": f"{hour - 12}:{minute:02d} PM",
        "morning": f"{hour - 12:02d}:{minute:02d}",
    }


def _balance(rng: random.Random) -> dict[str, Any]:
    return {"balance": round(rng.randint(150, 3999) + rng.randint(11, 99) / 100, 2)}


def _open_tasks(rng: random.Random) -> dict[str, Any]:
    return {"project": rng.choice(PROJECTS), "open": rng.randint(2, 6), "done": rng.randint(1, 4)}


SONGS = (
    "Paper Lanterns", "Neon Tide", "Glass Harbor", "Slow Comet", "Velvet Static", "Iron Orchard",
    "Silver Lining Blues", "Echo Valley", "Cinder Road", "Hollow Moon", "Marble Skies", "Quiet Riot",
)  # fmt: skip
PAYEES = (("Marisol", "Vance"), ("Dmitri", "Koenig"), ("Aiko", "Brennan"), ("Tobias", "Lund"))
RELATIONSHIPS = ("friend", "coworker", "family", "neighbor")


def _add_songs(rng: random.Random) -> dict[str, Any]:
    songs = rng.sample(SONGS, 3)
    listed = f"'{songs[0]}', '{songs[1]}' and '{songs[2]}'"
    return {"playlist": rng.choice(PLAYLIST_TITLES), "songs": songs, "listed": listed}


def _send_money(rng: random.Random) -> dict[str, Any]:
    (first1, last1), (first2, last2) = rng.sample(PAYEES, 2)
    note = rng.choice(("Dinner last night", "Concert tickets", "Half of the taxi", "Groceries"))
    amount1, amount2 = rng.randint(1200, 9000) / 100, rng.randint(1200, 9000) / 100
    return {
        "first1": first1,
        "last1": last1,
        "amount1": amount1,
        "shown1": f"{amount1:.2f}",
        "first2": first2,
        "last2": last2,
        "amount2": amount2,
        "shown2": f"{amount2:.2f}",
        "note": note,
    }


def _complete_due(rng: random.Random) -> dict[str, Any]:
    return {"project": rng.choice(PROJECTS), "date": f"2023-05-{rng.randint(19, 26)}"}


def _note_tag(rng: random.Random) -> dict[str, Any]:
    word = rng.choice(("Garden", "Budget", "Wedding", "Kitchen"))
    return {"word": word, "tag": rng.choice(("urgent", "review", "archive"))}


def _text_contacts(rng: random.Random) -> dict[str, Any]:
    message = rng.choice(("Running 10 minutes late!", "Party moved to 8 pm.", "Happy Friday!"))
    return {"relationship": rng.choice(RELATIONSHIPS), "message": message}


def _venmo_request(rng: random.Random) -> dict[str, Any]:
    description = rng.choice(("Cabin weekend", "Team lunch", "Gift for Sam", "Boat rental"))
    amount = float(rng.randint(8, 40))
    return {
        "relationship": rng.choice(RELATIONSHIPS),
        "amount": amount,
        "shown": f"{amount:.2f}",
        "description": description,
    }


def _playlist_note(rng: random.Random) -> dict[str, Any]:
    playlist = rng.choice(("Saturday Cleaning", "Campfire Songs", "Wedding Dance", "Night Owl"))
    return {"playlist": playlist, "note": f"{playlist} - track list"}


def _sent_to_contacts(rng: random.Random) -> dict[str, Any]:
    return {"relationship": rng.choice(RELATIONSHIPS)}


def _notes_export(rng: random.Random) -> dict[str, Any]:
    return {
        "project": rng.choice(("Summer Trip", "Lisbon Holiday", "Family Visit")),
        "open": rng.randint(2, 4),
    }


def _notes_to_files(rng: random.Random) -> dict[str, Any]:
    return {"tag": rng.choice(("school", "science", "travel"))}


TEMPLATES: tuple[Template, ...] = (
    # -- level 1 -----------------------------------------------------------------------------
    Template(
        name="spotify-public-playlist",
        level=1,
        split="train",
        apps=("spotify",),
        instruction="Create a new public playlist on Spotify titled '$title'.",
        params=_public_playlist,
        gold=LOGIN
        + login("spotify")
        + """\
apis.spotify.create_playlist(title=$title, is_public=True, access_token=spotify_token)
apis.supervisor.complete_task()
""",
        wrong=LOGIN
        + login("spotify")
        + """\
apis.spotify.create_playlist(title=$title, access_token=spotify_token)
apis.supervisor.complete_task()
""",
    ),
    Template(
        name="simple-note-append",
        level=1,
        split="train",
        apps=("simple_note",),
        instruction="Add the line '$line' at the end of my Simple Note note titled '$title'.",
        params=_note_append,
        gold=LOGIN
        + login("simple_note")
        + """\
notes = apis.simple_note.search_notes(query=$title, page_limit=20, access_token=simple_note_token)
note = next(note for note in notes if note["title"] == $title)
apis.simple_note.add_content_to_note(
    note_id=note["note_id"], append_or_prepend="append", added_content=$line,
    access_token=simple_note_token,
)
apis.supervisor.complete_task()
""",
        wrong=LOGIN
        + login("simple_note")
        + """\
notes = apis.simple_note.search_notes(query=$title, page_limit=20, access_token=simple_note_token)
note = next(note for note in notes if note["title"] == $title)
apis.simple_note.add_content_to_note(
    note_id=note["note_id"], append_or_prepend="prepend", added_content=$line,
    access_token=simple_note_token,
)
apis.supervisor.complete_task()
""",
    ),
    Template(
        name="phone-alarm",
        level=1,
        split="train",
        apps=("phone",),
        instruction="Set an alarm on my phone for $spoken today, labelled '$label'.",
        params=_alarm,
        gold=LOGIN
        + login("phone")
        + """\
apis.phone.create_alarm(time=$time, label=$label, access_token=phone_token)
apis.supervisor.complete_task()
""",
        wrong=LOGIN
        + login("phone")
        + """\
apis.phone.create_alarm(time=$morning, label=$label, access_token=phone_token)
apis.supervisor.complete_task()
""",
    ),
    Template(
        name="venmo-balance",
        level=1,
        split="dev",
        apps=("venmo",),
        instruction="How much money is in my Venmo balance? Answer with the amount in dollars.",
        params=_balance,
        gold=LOGIN
        + login("venmo")
        + """\
balance = apis.venmo.show_venmo_balance(access_token=venmo_token)
apis.supervisor.complete_task(answer=balance["venmo_balance"])
""",
        wrong=LOGIN
        + login("venmo")
        + """\
balance = apis.venmo.show_venmo_balance(access_token=venmo_token)
apis.supervisor.complete_task(answer=int(balance["venmo_balance"]))
""",
    ),
    Template(
        name="todoist-open-tasks",
        level=1,
        split="test",
        apps=("todoist",),
        instruction="How many tasks in my Todoist project '$project' are not completed yet?",
        params=_open_tasks,
        gold=LOGIN
        + login("todoist")
        + """\
projects = apis.todoist.show_projects(query=$project, page_limit=20, access_token=todoist_token)
project = next(project for project in projects if project["name"] == $project)
listing = apis.todoist.show_tasks(
    project_id=project["project_id"], is_completed=False, access_token=todoist_token
)
tasks = listing["no_section_tasks"] + [t for s in listing["sections"] for t in s["tasks"]]
apis.supervisor.complete_task(answer=len(tasks))
""",
        wrong=LOGIN
        + login("todoist")
        + """\
projects = apis.todoist.show_projects(query=$project, page_limit=20, access_token=todoist_token)
project = next(project for project in projects if project["name"] == $project)
listing = apis.todoist.show_tasks(project_id=project["project_id"], access_token=todoist_token)
tasks = listing["no_section_tasks"] + [t for s in listing["sections"] for t in s["tasks"]]
apis.supervisor.complete_task(answer=len(tasks))
""",
    ),
    # -- level 2 -----------------------------------------------------------------------------
    Template(
        name="spotify-add-songs",
        level=2,
        split="train",
        apps=("spotify",),
        instruction="Add the songs $listed to my Spotify playlist '$playlist'.",
        params=_add_songs,
        gold=LOGIN
        + login("spotify")
        + """\
library = apis.spotify.show_playlist_library(page_limit=20, access_token=spotify_token)
playlist = next(item for item in library if item["title"] == $playlist)
for title in $songs:
    results = apis.spotify.search_songs(query=title, page_limit=20)
    song = next(item for item in results if item["title"] == title)
    apis.spotify.add_song_to_playlist(
        playlist_id=playlist["playlist_id"], song_id=song["song_id"], access_token=spotify_token
    )
apis.supervisor.complete_task()
""",
        wrong=LOGIN
        + login("spotify")
        + """\
library = apis.spotify.show_playlist_library(page_limit=20, access_token=spotify_token)
playlist = next(item for item in library if $playlist.lower() in item["title"].lower())
for title in $songs:
    results = apis.spotify.search_songs(query=title, page_limit=20)
    song = next(item for item in results if item["title"] == title)
    apis.spotify.add_song_to_playlist(
        playlist_id=playlist["playlist_id"], song_id=song["song_id"], access_token=spotify_token
    )
apis.supervisor.complete_task()
""",
    ),
    Template(
        name="venmo-send-money",
        level=2,
        split="train",
        apps=("venmo",),
        instruction=(
            "Send $$$shown1 to $first1 $last1 and $$$shown2 to $first2 $last2 on Venmo, "
            "both with the note '$note'."
        ),
        params=_send_money,
        gold=LOGIN
        + login("venmo")
        + """\
for first, last, amount in [($first1, $last1, $amount1), ($first2, $last2, $amount2)]:
    friends = apis.venmo.search_friends(query=f"{first} {last}", access_token=venmo_token)
    friend = next(f for f in friends if (f["first_name"], f["last_name"]) == (first, last))
    apis.venmo.create_transaction(
        receiver_email=friend["email"], amount=amount, description=$note,
        access_token=venmo_token,
    )
apis.supervisor.complete_task()
""",
        wrong=LOGIN
        + login("venmo")
        + """\
for first, last, amount in [($first1, $last1, $amount1), ($first2, $last2, $amount2)]:
    friends = apis.venmo.search_friends(query=f"{first} {last}", access_token=venmo_token)
    friend = next(f for f in friends if (f["first_name"], f["last_name"]) == (first, last))
    apis.venmo.create_payment_request(
        user_email=friend["email"], amount=amount, description=$note, access_token=venmo_token
    )
apis.supervisor.complete_task()
""",
    ),
    Template(
        name="todoist-complete-due",
        level=2,
        split="train",
        apps=("todoist",),
        instruction=(
            "In my Todoist project '$project', mark every unfinished task that is due before "
            "$date as completed."
        ),
        params=_complete_due,
        gold=LOGIN
        + login("todoist")
        + """\
projects = apis.todoist.show_projects(query=$project, page_limit=20, access_token=todoist_token)
project = next(project for project in projects if project["name"] == $project)
listing = apis.todoist.show_tasks(
    project_id=project["project_id"], is_completed=False, access_token=todoist_token
)
tasks = listing["no_section_tasks"] + [t for s in listing["sections"] for t in s["tasks"]]
for task in tasks:
    if task["due_date"] and task["due_date"][:10] < $date:
        apis.todoist.update_task(
            task_id=task["task_id"], is_completed=True, access_token=todoist_token
        )
apis.supervisor.complete_task()
""",
        wrong=LOGIN
        + login("todoist")
        + """\
projects = apis.todoist.show_projects(query=$project, page_limit=20, access_token=todoist_token)
project = next(project for project in projects if project["name"] == $project)
listing = apis.todoist.show_tasks(
    project_id=project["project_id"], is_completed=False, access_token=todoist_token
)
tasks = listing["no_section_tasks"] + [t for s in listing["sections"] for t in s["tasks"]]
for task in tasks:
    if task["due_date"] and task["due_date"][:10] <= $date:
        apis.todoist.update_task(
            task_id=task["task_id"], is_completed=True, access_token=todoist_token
        )
apis.supervisor.complete_task()
""",
    ),
    Template(
        name="simple-note-tag",
        level=2,
        split="dev",
        apps=("simple_note",),
        instruction=(
            "Add the tag '$tag' to every note in my Simple Note whose title contains the word "
            "'$word'."
        ),
        params=_note_tag,
        gold=LOGIN
        + login("simple_note")
        + """\
notes = apis.simple_note.search_notes(query=$word, page_limit=20, access_token=simple_note_token)
for note in notes:
    if $word.lower() in note["title"].lower():
        apis.simple_note.update_note(
            note_id=note["note_id"], tags=note["tags"] + [$tag], access_token=simple_note_token
        )
apis.supervisor.complete_task()
""",
        wrong=LOGIN
        + login("simple_note")
        + """\
notes = apis.simple_note.search_notes(query=$word, page_limit=20, access_token=simple_note_token)
for note in notes:
    if $word.lower() in note["title"].lower():
        apis.simple_note.update_note(
            note_id=note["note_id"], tags=[$tag], access_token=simple_note_token
        )
apis.supervisor.complete_task()
""",
    ),
    Template(
        name="phone-text-contacts",
        level=2,
        split="test",
        apps=("phone",),
        instruction=(
            "Text '$message' to every contact in my phone whose relationship to me is "
            "'$relationship'."
        ),
        params=_text_contacts,
        gold=LOGIN
        + login("phone")
        + """\
contacts = apis.phone.search_contacts(
    relationship=$relationship, page_limit=20, access_token=phone_token
)
for contact in contacts:
    apis.phone.send_text_message(
        phone_number=contact["phone_number"], message=$message, access_token=phone_token
    )
apis.supervisor.complete_task()
""",
        wrong=LOGIN
        + login("phone")
        + """\
contacts = apis.phone.search_contacts(page_limit=20, access_token=phone_token)
for contact in contacts:
    if contact["relationships"] == [$relationship]:
        apis.phone.send_text_message(
            phone_number=contact["phone_number"], message=$message, access_token=phone_token
        )
apis.supervisor.complete_task()
""",
    ),
    # -- level 3 -----------------------------------------------------------------------------
    Template(
        name="phone-venmo-request",
        level=3,
        split="train",
        apps=("phone", "venmo"),
        instruction=(
            "Request $$$shown on Venmo from each of my phone contacts whose relationship to me "
            "is '$relationship', with the description '$description'."
        ),
        params=_venmo_request,
        gold=LOGIN
        + login("phone")
        + login("venmo")
        + """\
contacts, page = [], 0
while True:
    batch = apis.phone.search_contacts(
        relationship=$relationship, page_index=page, page_limit=20, access_token=phone_token
    )
    if not batch:
        break
    contacts += batch
    page += 1
for contact in contacts:
    apis.venmo.create_payment_request(
        user_email=contact["email"], amount=$amount, description=$description,
        access_token=venmo_token,
    )
apis.supervisor.complete_task()
""",
        wrong=LOGIN
        + login("phone")
        + login("venmo")
        + """\
contacts = apis.phone.search_contacts(
    relationship=$relationship, page_limit=20, access_token=phone_token
)
for contact in contacts:
    apis.venmo.create_payment_request(
        user_email=contact["email"], amount=$amount, description=$description,
        access_token=venmo_token,
    )
apis.supervisor.complete_task()
""",
    ),
    Template(
        name="spotify-playlist-note",
        level=3,
        split="train",
        apps=("spotify", "simple_note"),
        instruction=(
            "Create a note in Simple Note titled '$note' that lists the titles of the songs in "
            "my Spotify playlist '$playlist', one per line, in the playlist's order."
        ),
        params=_playlist_note,
        gold=LOGIN
        + login("spotify")
        + login("simple_note")
        + """\
playlist, page = None, 0
while playlist is None:
    batch = apis.spotify.show_playlist_library(
        page_index=page, page_limit=20, access_token=spotify_token
    )
    if not batch:
        break
    playlist = next((item for item in batch if item["title"] == $playlist), None)
    page += 1
details = apis.spotify.show_playlist(
    playlist_id=playlist["playlist_id"], access_token=spotify_token
)
titles = [song["title"] for song in details["songs"]]
apis.simple_note.create_note(
    title=$note, content="\\n".join(titles), access_token=simple_note_token
)
apis.supervisor.complete_task()
""",
        wrong=LOGIN
        + login("spotify")
        + login("simple_note")
        + """\
playlist, page = None, 0
while playlist is None:
    batch = apis.spotify.show_playlist_library(
        page_index=page, page_limit=20, access_token=spotify_token
    )
    if not batch:
        break
    playlist = next((item for item in batch if item["title"] == $playlist), None)
    page += 1
details = apis.spotify.show_playlist(
    playlist_id=playlist["playlist_id"], access_token=spotify_token
)
titles = sorted(song["title"] for song in details["songs"])
apis.simple_note.create_note(
    title=$note, content="\\n".join(titles), access_token=simple_note_token
)
apis.supervisor.complete_task()
""",
    ),
    Template(
        name="venmo-sent-to-contacts",
        level=3,
        split="train",
        apps=("phone", "venmo"),
        instruction=(
            "How much money in total have I sent on Venmo to my phone contacts whose "
            "relationship to me is '$relationship'? Answer with the amount in dollars."
        ),
        params=_sent_to_contacts,
        gold=LOGIN
        + login("phone")
        + login("venmo")
        + """\
emails, page = set(), 0
while True:
    batch = apis.phone.search_contacts(
        relationship=$relationship, page_index=page, page_limit=20, access_token=phone_token
    )
    if not batch:
        break
    emails |= {contact["email"] for contact in batch}
    page += 1
total, page = 0.0, 0
while True:
    batch = apis.venmo.show_transactions(
        direction="sent", page_index=page, page_limit=20, access_token=venmo_token
    )
    if not batch:
        break
    total += sum(t["amount"] for t in batch if t["receiver"]["email"] in emails)
    page += 1
apis.supervisor.complete_task(answer=round(total, 2))
""",
        wrong=LOGIN
        + login("phone")
        + login("venmo")
        + """\
contacts = apis.phone.search_contacts(
    relationship=$relationship, page_limit=20, access_token=phone_token
)
emails = {contact["email"] for contact in contacts}
transactions = apis.venmo.show_transactions(
    direction="sent", page_limit=20, access_token=venmo_token
)
total = sum(t["amount"] for t in transactions if t["receiver"]["email"] in emails)
apis.supervisor.complete_task(answer=round(total, 2))
""",
    ),
    Template(
        name="todoist-notes-export",
        level=3,
        split="dev",
        apps=("todoist", "simple_note"),
        instruction=(
            "For every unfinished task in my Todoist project '$project', create a note in "
            "Simple Note titled with the task's title and containing its description."
        ),
        params=_notes_export,
        gold=LOGIN
        + login("todoist")
        + login("simple_note")
        + """\
project, page = None, 0
while project is None:
    batch = apis.todoist.show_projects(page_index=page, page_limit=5, access_token=todoist_token)
    if not batch:
        break
    project = next((item for item in batch if item["name"] == $project), None)
    page += 1
listing = apis.todoist.show_tasks(
    project_id=project["project_id"], is_completed=False, access_token=todoist_token
)
tasks = listing["no_section_tasks"] + [t for s in listing["sections"] for t in s["tasks"]]
for task in tasks:
    apis.simple_note.create_note(
        title=task["title"], content=task["description"], access_token=simple_note_token
    )
apis.supervisor.complete_task()
""",
        wrong=LOGIN
        + login("todoist")
        + login("simple_note")
        + """\
project, page = None, 0
while project is None:
    batch = apis.todoist.show_projects(page_index=page, page_limit=5, access_token=todoist_token)
    if not batch:
        break
    project = next((item for item in batch if item["name"] == $project), None)
    page += 1
listing = apis.todoist.show_tasks(project_id=project["project_id"], access_token=todoist_token)
tasks = listing["no_section_tasks"] + [t for s in listing["sections"] for t in s["tasks"]]
for task in tasks:
    apis.simple_note.create_note(
        title=task["title"], content=task["description"], access_token=simple_note_token
    )
apis.supervisor.complete_task()
""",
    ),
    Template(
        name="notes-to-files",
        level=3,
        split="test",
        apps=("simple_note", "file_system"),
        instruction=(
            "Save each of my Simple Note notes tagged '$tag' as a text file in my file system, "
            "at ~/notes/<the note's title>.txt, with the note's content."
        ),
        params=_notes_to_files,
        gold=LOGIN
        + login("simple_note")
        + login("file_system")
        + """\
notes, page = [], 0
while True:
    batch = apis.simple_note.search_notes(
        tags=[$tag], page_index=page, page_limit=20, access_token=simple_note_token
    )
    if not batch:
        break
    notes += batch
    page += 1
for note in notes:
    full = apis.simple_note.show_note(note_id=note["note_id"], access_token=simple_note_token)
    apis.file_system.create_file(
        file_path=f"~/notes/{note['title']}.txt", content=full["content"],
        access_token=file_system_token,
    )
apis.supervisor.complete_task()
""",
        wrong=LOGIN
        + login("simple_note")
        + login("file_system")
        + """\
notes = apis.simple_note.search_notes(tags=[$tag], page_limit=20, access_token=simple_note_token)
for note in notes:
    full = apis.simple_note.show_note(note_id=note["note_id"], access_token=simple_note_token)
    apis.file_system.create_file(
        file_path=f"~/notes/{note['title']}.txt", content=full["content"],
        access_token=file_system_token,
    )
apis.supervisor.complete_task()
""",
    ),
)
