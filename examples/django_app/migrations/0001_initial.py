from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    operations = [  # noqa: RUF012 (the shape Django's makemigrations writes)
        migrations.CreateModel(
            name="Order",
            fields=[
                (
                    "order_id",
                    models.CharField(max_length=64, primary_key=True, serialize=False),
                ),
                ("customer", models.CharField(max_length=64)),
                ("amount_cents", models.PositiveIntegerField()),
                ("status", models.CharField(default="new", max_length=32)),
                ("charge_id", models.CharField(blank=True, max_length=64, null=True)),
                ("detail", models.TextField(blank=True, null=True)),
            ],
        ),
    ]
