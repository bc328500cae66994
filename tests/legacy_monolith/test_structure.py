"""The monolith keeps the size the workshop promises: 10+ apps, 30+ models, real cross-app foreign keys."""

from django.apps import apps
from django.core.management import call_command


def shop_apps():
    return [a for a in apps.get_app_configs() if a.name.startswith("legacy_monolith.")]


def test_the_shop_has_at_least_ten_apps_and_thirty_concrete_models():
    assert len(shop_apps()) >= 10
    models = [m for a in shop_apps() for m in a.get_models() if not m._meta.proxy]
    assert len(models) >= 30


def test_foreign_keys_cross_app_boundaries_in_many_places():
    crossing = {
        (m._meta.app_label, f.related_model._meta.app_label)
        for a in shop_apps()
        for m in a.get_models()
        for f in m._meta.get_fields()
        if f.is_relation
        and f.concrete
        and f.related_model is not None
        and f.related_model._meta.app_label != m._meta.app_label
    }
    assert len(crossing) >= 15, crossing


def test_system_check_is_clean():
    call_command("check", fail_level="WARNING")


def test_models_and_migrations_agree(db):
    call_command("makemigrations", check=True, dry_run=True, verbosity=0)
