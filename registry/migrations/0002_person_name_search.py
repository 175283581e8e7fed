import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.db import migrations, models

SEARCH_NAME = models.GeneratedField(
    db_persist=True,
    expression=django.db.models.functions.text.Replace(
        django.db.models.functions.text.Lower(django.db.models.functions.text.Concat(
            models.F("last_name"), models.Value(" "), models.F("first_name"), models.Value(" "),
            models.F("patronymic"))),
        models.Value("ё"), models.Value("е")),
    output_field=models.CharField(max_length=302),
)


class Migration(migrations.Migration):

    dependencies = [
        ("llo", "0003_audit_skips_bulk_loads"),
        ("registry", "0001_register"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="person", name="person_mo_idx"),
        # a generated column cannot be altered: dropped (its trigram index with it) and added again
        migrations.RemoveIndex(model_name="person", name="person_name_trgm"),
        migrations.RemoveField(model_name="person", name="search_name"),
        migrations.AddField(model_name="person", name="search_name", field=SEARCH_NAME),
        migrations.AddIndex(
            model_name="person",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass(models.F("search_name"), name="gin_trgm_ops"),
                name="person_name_trgm"),
        ),
        migrations.AddIndex(
            model_name="person",
            index=models.Index(
                models.F("attached_mo"),
                django.contrib.postgres.indexes.OpClass(models.F("search_name"), name="text_pattern_ops"),
                condition=models.Q(("merged_into__isnull", True)), name="person_mo_name"),
        ),
    ]
