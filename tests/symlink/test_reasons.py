"""The engine's reasons (why a link is listed, why a scan stopped or a deletion was held back)
in French: toolkit.plugins.symlink.service.reasons recognises each sentence the engine writes.
One example per sentence: a reworded or new reason in the engine must get its row here and
in the table, or this fails."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from toolkit.core import i18n
from toolkit.plugins.symlink.engine.checker import ScanOptions, run_scan
from toolkit.plugins.symlink.service.reasons import reason_text

EXAMPLES = {
    "symlink loop": "boucle de liens symboliques",
    "same name and size": "même nom et même taille",
    "the mount holding it is down: not searched": "le montage qui le contient est hors service : pas de recherche",
    "no folder of its path is left to search": "aucun dossier de son chemin ne reste où chercher",
    "same name (the old size is not known)": "même nom (l’ancienne taille n’est pas connue)",
    "no file named E01.mkv": "aucun fichier nommé E01.mkv",
    "no file named E01.mkv (the search stopped early: /mnt/rd did not answer within 10s)":
        "aucun fichier nommé E01.mkv (la recherche s’est arrêtée avant la fin : /mnt/rd did not answer within 10s)",
    "2 file(s) named E01.mkv, none of 4096 bytes": "2 fichier(s) nommé(s) E01.mkv, aucun de 4096 octets",
    "3 files named E01.mkv could be it": "3 fichiers nommés E01.mkv pourraient convenir",
    "the link is gone": "le lien n’existe plus",
    "the link works again": "le lien fonctionne de nouveau",
    "the new target is not a file": "la nouvelle cible n’est pas un fichier",
    "the new target is not there: No such file or directory":
        "la nouvelle cible n’est pas là : No such file or directory",
    "the new target's mount /mnt/rd is down: expected mount point is not mounted":
        "le montage de la nouvelle cible, /mnt/rd, est hors service : le point de montage attendu n’est pas monté",
    "the old target's mount /mnt/rd is down: expected mount point is not mounted":
        "le montage de l’ancienne cible, /mnt/rd, est hors service : le point de montage attendu n’est pas monté",
    "the old target cannot be checked: Permission denied": "l’ancienne cible ne peut pas être vérifiée : Permission denied",
    "the re-check did not finish within 10s": "la nouvelle vérification n’a pas fini en 10 s",
    "the link points elsewhere at the moment of re-pointing":
        "le lien pointe ailleurs au moment de la redirection",
    "target missing: No such file or directory (errno 2)": "cible absente : Aucun fichier ou dossier de ce type (errno 2)",
    "cannot reach the target: Permission denied (errno 13)": "cible injoignable : Permission refusée (errno 13)",
    "directory not readable": "dossier illisible",
    "not readable": "illisible",
    "not readable: Input/output error (errno 5)": "illisible : Erreur d’entrée/sortie (errno 5)",
    "12 bytes (< 1024)": "12 octets (< 1024)",
    "Input/output error (errno 5)": "Erreur d’entrée/sortie (errno 5)",
    "Transport endpoint is not connected (errno 107); mount /mnt/rd is down":
        "Le point de terminaison de transport n’est pas connecté (errno 107) ; le montage /mnt/rd est hors service",
    "Input/output error (errno 5); mount /mnt/rd answered": "Erreur d’entrée/sortie (errno 5) ; le montage /mnt/rd a répondu",
    "mount /mnt/rd is down: nothing on the mount answered within 5s (hung)":
        "le montage /mnt/rd est hors service : rien n’a répondu sur le montage en 5 s (bloqué)",
    "target root /mnt/rd is empty and not a mount point: looks unmounted":
        "la racine des cibles /mnt/rd est vide et n’est pas un point de montage : semble démontée",
    "empty and not a mount point: looks unmounted (the links into it are UNKNOWN)":
        "vide et n’est pas un point de montage : semble démonté (les liens qui y pointent sont UNKNOWN)",
    "mount /mnt/rd is mounted but empty": "le montage /mnt/rd est monté mais vide",
    "mounted but empty (the links into it are UNKNOWN)": "monté mais vide (les liens qui y pointent sont UNKNOWN)",
    "no answer within 2.5s": "pas de réponse en 2.5 s",
    "no answer within 2s, nor in 6s more at the end of the phase": "pas de réponse en 2 s, ni en 6 s de plus à la fin de la phase",
    "library folder did not answer within 5s: its links were not checked":
        "le dossier de la bibliothèque n’a pas répondu en 5 s : ses liens n’ont pas été vérifiés",
    "target folder /mnt/rd/shows does not exist; 30 of the scan's 32 links point into it, under /mnt/rd which exists: "
    "the mount that should be there is not visible here":
        "le dossier cible /mnt/rd/shows n’existe pas ; 30 des 32 liens de l’analyse pointent dedans, sous /mnt/rd qui "
        "existe : le montage qui devrait s’y trouver n’est pas visible ici",
    "/mnt/rd/x: No such file or directory (errno 2)": "/mnt/rd/x: Aucun fichier ou dossier de ce type (errno 2)",
    "stat before probing failed: Input/output error (errno 5)": "stat avant l’analyse du fichier a échoué : Erreur d’entrée/sortie (errno 5)",
    "probe hung past its deadline": "l’analyse du fichier a dépassé son délai",
    "probe passed its deadline; not retried (the scan stopped)":
        "l’analyse du fichier a dépassé son délai ; pas de nouvel essai (l’analyse s’est arrêtée)",
    "ffprobe timed out after 30s and was killed": "ffprobe n’a pas fini en 30 s et a été arrêté",
    "ffprobe could not read the file: Invalid data found when processing input":
        "ffprobe n’a pas pu lire le fichier : Invalid data found when processing input",
    "ffmpeg could not read the file: moov atom not found": "ffmpeg n’a pas pu lire le fichier : moov atom not found",
    "ffprobe: the container states no duration": "ffprobe : le conteneur n’indique aucune durée",
    "libav: the container states no duration": "libav : le conteneur n’indique aucune durée",
    "libav: Invalid data found when processing input": "libav : Invalid data found when processing input",
    "the PyAV probe timed out after 30s and was killed": "l’analyse PyAV n’a pas fini en 30 s et a été arrêtée",
    "the probe process died (signal 9)": "le processus d’analyse s’est arrêté (signal 9)",
    "the PyAV probe process did not start: no memory": "le processus d’analyse PyAV n’a pas démarré : no memory",
    "the probe process is gone (broken pipe)": "le processus d’analyse a disparu (broken pipe)",
    "nothing decodes at 12.0s of 24.0s: Invalid NAL unit size": "rien ne se décode à 12.0 s sur 24.0 s : Invalid NAL unit size",
    "damaged data at 3.5s: exit 1": "données endommagées à 3.5 s : exit 1",
    "decoding at 1.0s: ffmpeg timed out after 10s and was killed":
        "décodage à 1.0 s : ffmpeg n’a pas fini en 10 s et a été arrêté",
    "the scanned path's mount /mnt/rd is down: expected mount point is not mounted":
        "le montage du chemin analysé, /mnt/rd, est hors service : le point de montage attendu n’est pas monté",
    "3 filesystem calls hung past 5s: the filesystem is not answering":
        "3 appels au système de fichiers bloqués au-delà de 5 s : le système de fichiers ne répond pas",
    "worker process failed: pipe closed": "un processus de travail a échoué : pipe closed",
    "a worker process took more than 60s on one batch": "un processus de travail a mis plus de 60 s sur un lot",
    "/media/tv: no answer within 5s; its links were not checked": "/media/tv : pas de réponse en 5 s ; ses liens n’ont pas été vérifiés",
    "walk stopped: 3 folders did not answer": "parcours arrêté : 3 dossiers n’ont pas répondu",
    "mount root took more than 5s, but other calls completed (slow)":
        "la racine du montage a mis plus de 5 s, mais d’autres appels ont abouti (lent)",
    "not mounted here, or not visible (earlier scans saw rd:)": "pas monté ici, ou pas visible (les analyses précédentes voyaient rd:)",
    "no call on the mount completed for 10s while 4 were pending (hung)":
        "aucun appel sur le montage n’a abouti en 10 s alors que 4 étaient en attente (bloqué)",
    "12 deletions exceed the limit of 10": "12 suppressions dépassent la limite de 10",
    "mass-deletion limit: 12 deletions are 40% of 30 scanned links (limit 25%): nothing was deleted":
        "limite de suppression en masse : 12 suppressions font 40% des 30 liens analysés (limite 25%) : rien n’a été supprimé",
    "override: 12 deletions exceed the limit of 10": "forcé : 12 suppressions dépassent la limite de 10",
    "gone already": "déjà disparu",
    "no longer a symlink": "n’est plus un lien symbolique",
    "the link now points elsewhere": "le lien pointe maintenant ailleurs",
    "phase 1 now says OK: re-scan before deleting": "la phase 1 dit maintenant OK : relancez une analyse avant de supprimer",
    "the link is fine now": "le lien est correct maintenant",
    "status changed to BROKEN (symlink loop)": "état devenu BROKEN (boucle de liens symboliques)",
    "the path is occupied": "l’emplacement est occupé",
    "scheduled deletions are off in Settings: this real-mode scan only reported":
        "les suppressions planifiées sont désactivées dans Paramètres : cette analyse en mode réel a seulement fait un rapport",
    "the scan stopped: mount /mnt/rd is down: down: nothing was deleted":
        "l’analyse s’est arrêtée : le montage /mnt/rd est hors service : hors service : rien n’a été supprimé",
    "2 link(s) could not be checked (UNKNOWN: their mount was down or did not answer): nothing was deleted":
        "2 lien(s) n’ont pas pu être vérifiés (INCONNU : leur montage était hors service ou n’a pas répondu) : rien n’a été supprimé",
    "degraded (slow) during the scan": "dégradé (lent) pendant l’analyse",
    "nothing to delete": "rien à supprimer",
    "invalid scan paths: '/media/TV' is not an existing folder; '../x': '..' is not allowed":
        "chemins d’analyse invalides : '/media/TV' n’est pas un dossier existant; '../x' : '..' n’est pas permis",
    "'/etc' is not under the media path /media": "'/etc' n’est pas sous le dossier des médias /media",
    "'/media/x' leads outside the media path through a symlink":
        "'/media/x' sort du dossier des médias par un lien symbolique",
    "empty or invalid path": "chemin vide ou invalide",
}


@pytest.fixture
def language():
    def choose(code: str) -> None:
        i18n.set_resolver(lambda: code)

    yield choose
    i18n.set_resolver(None)


@pytest.mark.parametrize("english", list(EXAMPLES))
def test_each_reason_of_the_engine_reads_in_french(language, english):
    language("fr")
    assert reason_text(english) == EXAMPLES[english]
    language("en")
    assert reason_text(english) == english  # English stays the engine's own words


def test_an_unknown_reason_is_shown_as_written(language):
    language("fr")
    assert reason_text("ValueError: something new") == "ValueError: something new"
    assert reason_text(None) is None and reason_text("") == ""


def test_the_reasons_of_a_real_scan_are_all_recognised(language, tree):
    """The engine's own sentences, from a real scan of a local tree: none left in English."""
    big = tree.file("Movies/movie.mkv", 4096)
    tree.link("ok.mkv", big)
    tree.link("broken.mkv", tree.targets / "gone.mkv")
    tree.link("small.mkv", tree.file("small.mkv", 12))
    tree.link("loop-a", tree.library / "loop-b")
    tree.link("loop-b", tree.library / "loop-a")
    locked = tree.file("Locked/locked.mkv", 4096)
    tree.link("locked.mkv", locked)
    os.chmod(Path(locked).parent, 0)
    try:
        problems = []
        run_scan(ScanOptions(paths=[str(tree.library)]), on_problem=problems.append)
    finally:
        os.chmod(Path(locked).parent, 0o755)
    reasons = {Path(p.path).name: p.reason for p in problems}
    assert {"broken.mkv", "small.mkv", "loop-a"} <= set(reasons)
    language("fr")
    french = {name: reason_text(reason) for name, reason in reasons.items()}
    assert french["broken.mkv"] == "cible absente : Aucun fichier ou dossier de ce type (errno 2)"
    assert french["small.mkv"] == "12 octets (< 1024)"
    assert french["loop-a"] == "boucle de liens symboliques"
    for name, reason in reasons.items():
        assert french[name] != reason, f"{name}: {reason!r} is not in the table"
