"""Keys name the request that holds them (`owner`) and keep answers as sent (any content type),
not as parsed JSON; answers kept before are carried over."""

import json

from django.db import migrations, models


def carry_answers_over(apps, schema_editor):
    IdempotencyKey = apps.get_model("payments_service", "IdempotencyKey")
    for row in IdempotencyKey.objects.filter(in_flight=False).iterator():
        row.body = json.dumps(row.response)
        row.content_type = "application/json"
        row.save(update_fields=["body", "content_type"])


class Migration(migrations.Migration):
    dependencies = [
        ("payments_service", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="idempotencykey",
            name="body",
            field=models.TextField(default=""),
        ),
        migrations.AddField(
            model_name="idempotencykey",
            name="content_type",
            field=models.CharField(default="", max_length=100),
        ),
        migrations.AddField(
            model_name="idempotencykey",
            name="owner",
            field=models.CharField(default="", max_length=32),
        ),
        migrations.AddField(
            model_name="idempotencykey",
            name="request",
            field=models.CharField(default="", max_length=300),
        ),
        migrations.RunPython(carry_answers_over, migrations.RunPython.noop),
        migrations.RemoveField(
            model_name="idempotencykey",
            name="response",
        ),
        migrations.AlterField(
            model_name="payment",
            name="status",
            field=models.CharField(
                choices=[
                    ("authorised", "authorised"),
                    ("declined", "declined"),
                    ("captured", "captured"),
                    ("voided", "voided"),
                    ("partially_refunded", "partially_refunded"),
                    ("refunded", "refunded"),
                ],
                max_length=20,
            ),
        ),
    ]
