app_name = "scouting"
urlpatterns: list = []
