"""The busiest tables' foreign keys lose the index of their own that a composite index with the same
leading column already serves: every stored frame, meter sample and status change wrote it."""

import django.db.models.deletion
from django.db import migrations, models

# (table, column, index): the names Django gave them, the same on SQLite and PostgreSQL. Dropped
# by name: an AlterField would copy the whole table on SQLite to drop one index.
INDEXES = [
    ("stations_connectorstatuschange", "station_id", "stations_connectorstatuschange_station_id_262addcd"),
    ("stations_metersample", "session_id", "stations_metersample_session_id_baaa10c8"),
    ("stations_metersample", "station_id", "stations_metersample_station_id_27dd96f4"),
    ("stations_ocppmessage", "station_id", "stations_ocppmessage_station_id_9a71c7b0"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("stations", "0012_session_card_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{index}"',
                    reverse_sql=f'CREATE INDEX IF NOT EXISTS "{index}" ON "{table}" ("{column}")',
                )
                for table, column, index in INDEXES
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="connectorstatuschange",
                    name="station",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="status_changes",
                        to="stations.station",
                    ),
                ),
                migrations.AlterField(
                    model_name="metersample",
                    name="session",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="samples",
                        to="stations.session",
                    ),
                ),
                migrations.AlterField(
                    model_name="metersample",
                    name="station",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="meter_samples",
                        to="stations.station",
                    ),
                ),
                migrations.AlterField(
                    model_name="ocppmessage",
                    name="station",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="stations.station",
                    ),
                ),
            ],
        ),
    ]
