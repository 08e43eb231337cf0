import chargenet.models
from django.db import migrations, models


def superusers_are_admins(apps, schema_editor):
    # `createsuperuser` used to make viewers (the old default role): a first operator's API key was
    # read-only. Superusers are admins.
    User = apps.get_model("chargenet", "User")
    User.objects.filter(is_superuser=True, role="viewer").update(role="admin")


class Migration(migrations.Migration):

    dependencies = [
        ('chargenet', '0003_outbox_events_and_delivery_schedule'),
    ]

    operations = [
        migrations.AlterModelManagers(
            name='user',
            managers=[
                ('objects', chargenet.models.UserManager()),
            ],
        ),
        migrations.AlterField(
            model_name='user',
            name='role',
            field=models.CharField(blank=True, choices=[('', 'No role'), ('admin', 'Admin'), ('operator', 'Operator'), ('viewer', 'Viewer'), ('driver', 'Driver')], default='', max_length=16),
        ),
        migrations.RunPython(superusers_are_admins, migrations.RunPython.noop),
    ]
