"""spotify-add-songs: three named songs added to one named playlist (a playlist whose title
contains the asked one comes first in the library)."""

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
)
ARTISTS = ("The Meridians", "Luna Park", "Oskar Vale", "Juniper Lane")


def build(world: Any, params: dict[str, Any]) -> dict[str, Any]:
    me(world)
    user = world.account("spotify")
    artists = [world.make("spotify", "Artist", name=name) for name in ARTISTS]
    songs = {}
    for title in world.rng.sample(SONGS, len(SONGS)):
        artist = world.rng.choice(artists)
        songs[title] = world.make(
            "spotify",
            "Song",
            title=title,
            artist_ids=[artist.id],
            album_id=None,
            genre=world.rng.choice(("pop", "rock", "jazz", "indie")),
            duration=world.rng.randint(150, 320),
        )
    others = [title for title in SONGS if title not in params["songs"]]
    decoy = world.make(
        "spotify", "Playlist", user_id=user.id, title=params["playlist"] + " Classics"
    )
    target = world.make("spotify", "Playlist", user_id=user.id, title=params["playlist"])
    world.make("spotify", "Playlist", user_id=user.id, title="Morning Coffee")
    for playlist in (decoy, target):
        for title in world.rng.sample(others, 2):
            world.make("spotify", "PlaylistSong", playlist_id=playlist.id, song_id=songs[title].id)
    return {
        "public": {
            "playlist_id": target.id,
            "song_ids": sorted(songs[title].id for title in params["songs"]),
        },
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
    added, updated, removed = models.changed_records("spotify.PlaylistSong")
    with test("the three songs were added to the asked playlist, and nothing else added"):
        test.case(sorted(record.song_id for record in added), "==", list(public_data.song_ids))
        test.case({record.playlist_id for record in added}, "==", {public_data.playlist_id})
    with test("no song was removed from a playlist"):
        test.case(len(updated) + len(removed), "==", 0)
    check_changed_only(test, models, {"spotify.PlaylistSong"})
    check_answer(test, models, ground_truth_answer)
