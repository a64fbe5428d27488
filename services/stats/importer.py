"""`hub import stations`: a county's list of stations and volunteer service points (CSV or XLSX)
into the register of the station network.

Each row becomes the body of `POST /stations` (Chinese or English headers; the Chinese names of
the tiers, and a township's or village's name for its code, accepted), checked by the API's
schema and opened by its use case, so it gets the same rules and events. A row may name as its
parent a station of an earlier row. The reading, checking, reporting and the one transaction for
the whole file are hub.sheets'.
"""
from hub import sheets
from hub.sheets import Column, to_date, word_list, words
from stats import stations
from stats.schemas import StationCreateSchema

TIER_WORDS = {"县级社工总站": "county", "社工总站": "county", "总站": "county", "县级": "county",
              "乡镇社工站": "township", "社工站": "township", "乡镇": "township",
              "村(社区)社工室": "village", "社工室": "village", "村级": "village",
              "志愿服务站点": "service_point", "志愿服务站": "service_point",
              "服务站点": "service_point"}


class StationImport(sheets.Importer):
    kind = "stations"
    help = ("Import stations and volunteer service points from a CSV or XLSX file (Chinese or "
            "English column headers).")
    service = "stats"
    schema = StationCreateSchema
    columns = (
        Column("code", ("站点编码", "编码", "站点代码")),
        Column("name", ("站点名称", "名称")),
        Column("tier", ("层级", "类型", "站点类型"), words(TIER_WORDS)),
        Column("parent_code", ("上级站点", "上级站点编码", "上级")),
        Column("place_code", ("所在地代码", "区划代码", "所在地")),
        Column("opened_on", ("建成日期", "成立日期", "启用日期"), to_date),
        Column("closed_on", ("撤销日期", "关闭日期"), to_date),
        Column("staff", ("工作人员", "社工"), word_list({})),
    )
    unique = {"code": str}

    def refine(self, settings, body):
        """A place's name (东至县, 尧渡镇, 七里村) -> its code, when the county has one place of
        that name; codes and other names as they are."""
        place = body.get("place_code")
        if place and not place.isdigit():
            county = settings.county
            names = {county.name: [county.code]}
            for town in county.townships.values():
                names.setdefault(town.name, []).append(town.code)
                for code, name in town.villages.items():
                    names.setdefault(name, []).append(code)
            codes = names.get(place, [])
            body["place_code"] = codes[0] if len(codes) == 1 else place
        return body

    def write(self, tx, settings, bodies, actor):
        return sheets.one_at_a_time(self.open_one, tx, settings, bodies, actor)

    @staticmethod
    def open_one(tx, settings, body, actor):
        row = stations.open_station(tx, settings, body, actor)
        return {**row, "id": row["code"]}


STATIONS = StationImport()
