import factory
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.models import Membership, Role, Team
from tests.audio_files import speech
from transcription.models import Job, JobStatus, Recording, Segment


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER


class RecordingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Recording

    class Params:
        # A file name in tests/data/speech: the stored file is that real audio, not a stub.
        audio = None

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"meeting-{n}.wav")
    file = factory.LazyAttribute(
        lambda o: ContentFile(
            speech(o.audio).read_bytes() if o.audio else b"RIFF....WAVE", name="original"
        )
    )
    size_bytes = 12
    container = "wav"
    codec = "pcm_s16le"
    sample_rate = 16000
    channels = 1
    duration_s = 12.5


class JobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Job

    recording = factory.SubFactory(RecordingFactory)
    owner = factory.SelfAttribute("recording.owner")
    model = "whisper-base"


class SucceededJobFactory(JobFactory):
    status = JobStatus.SUCCEEDED
    stage = "finalizing"
    progress = 100
    detected_language = "en"
    text = "Hello there. General Kenobi."
    finished_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def segments(job, create, extracted, **kwargs):
        texts = extracted or ["Hello there.", "General Kenobi."]
        for i, text in enumerate(texts):
            Segment.objects.create(job=job, index=i, start=i * 2.5, end=i * 2.5 + 2.0, text=text)
