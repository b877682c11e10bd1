"""spotify-playlist-note: a note listing a playlist's songs in the playlist's order; the
playlist is past the first page of the library."""

from typing import Any

from benchmarks.appworld.worlds.common import check_answer, check_changed_only, me

SONGS = (
    "Paper Lanterns",
    "Neon Tide",
    "Glass Harbor",
    "Slow Comet",
    "Velvet Static",
    "Iron Orchard",
    "Silver Lining Blues",
    "Echo Valley",
    "Cinder Road",
    "Hollow Moon",
    "Marble Skies",
    "Quiet Riot",
    "Amber Waves",
    "Zero Gravity",
    "Bright Side",
    "Morning Tide",
)
FILLER = (
    "Focus",
    "Chill",
    "Party",
    "Retro",
    "Acoustic",
    "Indie",
    "Jazz Nights",
    "Road",
    "Summer",
    "Winter",
    "Dinner",
    "Sleep",
    "Energy",
    "Throwback",
    "Hits",
    "Fresh",
    "Soul",
    "Blues",
    "Lounge",
    "Garage",
    "Country",
    "Folk",
)


def build(world: Any, params: dict[str, Any]) -> dict[str, Any]:
    from appworld.common.datetime import DateTime

    me(world)
    user = world.account("spotify")
    world.account("simple_note")
    artist = world.make("spotify", "Artist", name="The Meridians")
    songs = [
        world.make(
            "spotify",
            "Song",
            title=title,
            artist_ids=[artist.id],
            album_id=None,
            genre="indie",
            duration=world.rng.randint(150, 320),
        )
        for title in SONGS
    ]
    for name in FILLER:  # 22 playlists before the asked one
        playlist = world.make("spotify", "Playlist", user_id=user.id, title=f"{name} Mix")
        for song in world.rng.sample(songs, 2):
            world.make("spotify", "PlaylistSong", playlist_id=playlist.id, song_id=song.id)
    target = world.make("spotify", "Playlist", user_id=user.id, title=params["playlist"])
    # The app lists a playlist's songs in the order of their ids: add them in that order.
    chosen = sorted(world.rng.sample(songs, 6), key=lambda song: song.id)
    for minutes, song in enumerate(chosen):
        world.make(
            "spotify",
            "PlaylistSong",
            playlist_id=target.id,
            song_id=song.id,
            added_at=DateTime(2023, 5, 1, 9, minutes, 0),
        )
    return {
        "public": {"title": params["note"], "content": "\n".join(song.title for song in chosen)},
        "answer": None,
    }


def evaluate(
    test: Any,
    public_data: Any,
    private_data: Any,
    main_user: Any,
    models: Any,
    ground_truth_answer: Any,
) -> None:
    added, updated, removed = models.changed_records("simple_note.Note")
    with test("exactly one note was added"):
        test.case(len(added), "==", 1)
        test.case(len(updated) + len(removed), "==", 0)
    with test("it has the asked title"):
        test.case(added[0].title, "==", public_data.title)
    with test("it lists the playlist's song titles, one per line, in the playlist's order"):
        lines = [line.strip() for line in added[0].content.strip().splitlines() if line.strip()]
        test.case(lines, "==", public_data.content.splitlines())
    check_changed_only(test, models, {"simple_note.Note"})
    check_answer(test, models, ground_truth_answer)
