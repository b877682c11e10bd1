"""spotify-public-playlist: a new public playlist with the asked title, nothing else."""

from typing import Any

from benchmarks.appworld.worlds.common import check_answer, check_changed_only, me

EXISTING = ("Chill Classics", "Workout Mix", "Throwbacks", "Study Beats")


def build(world: Any, params: dict[str, Any]) -> dict[str, Any]:
    me(world)
    user = world.account("spotify")
    for title in world.rng.sample(EXISTING, 3):
        world.make("spotify", "Playlist", user_id=user.id, title=title, is_public=False)
    return {"public": {"title": params["title"], "user_id": user.id}, "answer": None}


def evaluate(
    test: Any,
    public_data: Any,
    private_data: Any,
    main_user: Any,
    models: Any,
    ground_truth_answer: Any,
) -> None:
    added, updated, removed = models.changed_records("spotify.Playlist")
    with test("exactly one playlist was added and none changed or removed"):
        test.case(len(added), "==", 1)
        test.case(len(updated) + len(removed), "==", 0)
    with test("the new playlist is mine, public and has the asked title"):
        playlist = added[0]
        test.case(playlist.user_id, "==", public_data.user_id)
        test.case(playlist.title, "==", public_data.title)
        test.case(playlist.is_public, "==", True)
    check_changed_only(test, models, {"spotify.Playlist"})
    check_answer(test, models, ground_truth_answer)
